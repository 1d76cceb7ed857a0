import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { CHAT_RETENTION_SCHEDULE, ensureSchedules } from '../../src/temporal/schedules.ts';
import { ownDatabase } from '../helpers/own-database.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';

// The chat-retention Schedule firing by itself (a cron of every few seconds), in a Temporal
// namespace and a database of its own: a schedule acts on every row, and other files' rooms and
// schedules must never meet it.
const tag = randomUUID().slice(0, 8);
const namespace = `retention-${tag}`;
const base = loadConfig();
const temporalCli = (...args: string[]) => execFileSync('temporal', [...args, '--address', base.TEMPORAL_ADDRESS], { stdio: 'pipe' });
let db: Awaited<ReturnType<typeof ownDatabase>>;
let s: Stack;

beforeAll(async () => {
  temporalCli('operator', 'namespace', 'create', '--namespace', namespace, '--retention', '24h');
  // A new namespace needs the search attributes meetflow tags its operations with.
  await eventually(async () => {
    temporalCli('operator', 'search-attribute', 'create', '--namespace', namespace,
      '--name', 'MeetflowOperation', '--type', 'Keyword', '--name', 'MeetflowEntity', '--type', 'Keyword');
    return true;
  }, { timeoutMs: 60_000, intervalMs: 1000 }).catch((err: Error) => { throw new Error(`registering search attributes: ${err.message}`); });
  db = await ownDatabase('meetflow_retention');
  s = await startStack({ DATABASE_URL: db.url, TEMPORAL_NAMESPACE: namespace, CHAT_RETENTION_CRON: '@every 5s', CHAT_RETENTION_DAYS: '30' });
  await s.startWorker();
});
afterAll(async () => {
  await s?.temporal.schedule.getHandle(CHAT_RETENTION_SCHEDULE).delete().catch(() => undefined);
  await s?.close();
  await db?.drop();
});

describe('the chat-retention Schedule', () => {
  it('fires on its own and closes the rooms of events that ended more than CHAT_RETENTION_DAYS ago, and only those', { timeout: 240_000 }, async () => {
    const owner = await s.user('Host');
    const room = async (endedDaysAgo: number) => {
      const slug = `sched-${endedDaysAgo}-${tag}`;
      const end = new Date(Date.now() - endedDaysAgo * 86_400_000);
      const [event] = await s.ds.query(
        `INSERT INTO events (slug, name, start_at, end_at, time_zone, owner_id, chat_enabled)
         VALUES ($1, $1, $2, $3, 'UTC', $4, true) RETURNING id`, [slug, new Date(end.getTime() - 3_600_000), end, owner.id]);
      const alias = `meetflow-event-${slug}`;
      const roomId = await s.matrix!.createRoom(alias, slug, 'seeded for the schedule test');
      const [row] = await s.ds.query(`INSERT INTO chat_rooms (event_id, alias, room_id, status) VALUES ($1, $2, $3, 'active') RETURNING id`, [event.id, alias, roomId]);
      return row.id as string;
    };
    const old = await room(40);
    const recent = await room(3);

    await ensureSchedules(s.temporal, s.config); // what the worker does at start
    const roomStatus = async (id: string) => (await s.ds.query(`SELECT status FROM chat_rooms WHERE id = $1`, [id]))[0]?.status;
    await eventually(async () => (await roomStatus(old)) === 'deleted', { timeoutMs: 180_000, intervalMs: 1000 });
    expect(await roomStatus(recent)).toBe('active');
    const described = await s.temporal.schedule.getHandle(CHAT_RETENTION_SCHEDULE).describe();
    expect(described.info.recentActions.length).toBeGreaterThan(0); // started by the schedule, not by anyone here
  });
});

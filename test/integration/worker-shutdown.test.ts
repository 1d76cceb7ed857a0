import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifySeatsChanged } from '../../src/temporal/signals.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';

let s: Stack;
beforeAll(async () => { s = await startStack(); });
afterAll(async () => { await s?.close(); });

describe('worker process', () => {
  it('on SIGTERM mid-activity lets the activity finish, then exits 0', async () => {
    const owner = await s.user('Owner');
    const guest = await s.user('Guest');
    const { slug } = await s.event(owner.token, { capacity: 1 });
    await s.api('POST', `/v1/events/${slug}/attendees`, { token: owner.token, body: { status: 'going' } });
    await s.api('POST', `/v1/events/${slug}/attendees`, { token: guest.token, body: { status: 'going' } });
    // Free the seat without the API (so no promotion starts yet) ...
    await s.ds.query(`UPDATE attendees SET status = 'cancelled' FROM events e WHERE e.id = event_id AND e.slug = $1 AND user_id = $2`, [slug, owner.id]);

    const worker = spawn(process.execPath, ['src/worker/main.ts'], {
      env: { ...process.env, TEMPORAL_TASK_QUEUE: s.config.TEMPORAL_TASK_QUEUE, WORKFLOW_BUNDLE_PATH: s.config.WORKFLOW_BUNDLE_PATH, WORKER_SHUTDOWN_GRACE: '20s' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    worker.stdout.on('data', (d) => { output += d; });
    worker.stderr.on('data', (d) => { output += d; });
    const exited = once(worker, 'exit');
    await eventually(async () => output.includes('worker polling'), { timeoutMs: 60_000 });

    // ... and hold the event's row lock so the promotion activity blocks inside Postgres.
    const lock = s.ds.createQueryRunner();
    await lock.startTransaction();
    await lock.query(`SELECT 1 FROM events WHERE slug = $1 FOR UPDATE`, [slug]);
    const opId = await notifySeatsChanged(s.temporal, s.config, slug);
    await eventually(async () => {
      const [row] = await s.ds.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'`);
      return row.n > 0;
    });

    worker.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    expect(worker.exitCode).toBeNull(); // still draining: the activity is running
    await lock.commitTransaction();
    await lock.release();

    const [code] = await exited;
    expect(code, output).toBe(0);
    expect(output).toContain('worker stopped');
    const [row] = await s.ds.query(`SELECT a.status FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1 AND a.user_id = $2`, [slug, guest.id]);
    expect(row.status).toBe('confirmed');
    const history = await s.temporal.workflow.getHandle(opId).fetchHistory();
    expect(history.events?.some((e) => e.activityTaskCompletedEventAttributes)).toBe(true);
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { retentionActivities } from '../../src/activities/chat/retention.ts';
import { MatrixError, type MatrixClient } from '../../src/matrix/client.ts';
import { doorFor } from '../helpers/door.ts';
import { synapseRoom } from '../helpers/synapse.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';

let s: Stack;
beforeAll(async () => { s = await startStack(); await s.startWorker(); });
afterAll(async () => { await s?.close(); });

const mxid = (userSlug: string) => `@mf-${userSlug}:localhost`;

async function roomOf(column: 'event_id' | 'group_id', table: 'events' | 'groups', slug: string): Promise<string> {
  return eventually(async () => {
    const [row] = await s.ds.query(`SELECT c.room_id FROM chat_rooms c JOIN ${table} t ON t.id = c.${column} WHERE t.slug = $1`, [slug]);
    return row?.room_id as string | undefined;
  });
}

async function members(roomId: string) {
  return (await s.matrix!.members(roomId)).sort();
}

describe('chat rooms on a real Synapse', () => {
  it('an event with chat gets one room with its name; RSVPs add and remove members', async () => {
    const owner = await s.user('Host');
    const guest = await s.user('Guest');
    const created = await s.api('POST', '/v1/events', {
      token: owner.token,
      body: { name: 'Chat Night', startAt: '2027-02-01T19:00:00Z', endAt: '2027-02-01T22:00:00Z', timeZone: 'UTC', chatEnabled: true },
    });
    const { slug } = created.body;
    expect(created.body.operations).toEqual([{ id: `chat-room:${slug}`, type: 'chat-room' }]);
    const roomId = await roomOf('event_id', 'events', slug);
    expect((await synapseRoom(roomId))?.name).toBe('Chat Night');
    await eventually(async () => (await members(roomId)).includes(mxid(owner.slug)));

    const rsvp = await s.api('POST', `/v1/events/${slug}/attendees`, { token: guest.token, body: { status: 'going' } });
    expect(rsvp.body.operations).toEqual([{ id: `chat-room:${slug}`, type: 'chat-room' }]);
    await eventually(async () => (await members(roomId)).includes(mxid(guest.slug)));
    await s.api('DELETE', `/v1/events/${slug}/attendees/me`, { token: guest.token });
    await eventually(async () => !(await members(roomId)).includes(mxid(guest.slug)));
    expect(await members(roomId)).toEqual([mxid(owner.slug), '@meetflow-bot:localhost'].sort());

    await s.api('PATCH', `/v1/events/${slug}`, { token: owner.token, body: { name: 'Chat Night (moved)' } });
    await eventually(async () => (await synapseRoom(roomId))?.name === 'Chat Night (moved)');

    // Further starts and signals never make a second room.
    const [{ n }] = await s.ds.query(`SELECT count(*)::int AS n FROM chat_rooms c JOIN events e ON e.id = c.event_id WHERE e.slug = $1`, [slug]);
    expect(n).toBe(1);
    const op = await s.api('GET', `/v1/operations/chat-room:${slug}`, { token: owner.token });
    expect(op.body).toMatchObject({ type: 'chat-room', entity: { kind: 'event', slug }, progress: { roomId, state: 'ready' } });
  });

  it('a group with chat gets a room with its members; promotion from the waitlist brings people in', async () => {
    const owner = await s.user('Organizer');
    const group = await s.api('POST', '/v1/groups', { token: owner.token, body: { name: 'Climbers', chatEnabled: true } });
    expect(group.body.operations).toEqual([{ id: `chat-room:${group.body.slug}`, type: 'chat-room' }]);
    const groupRoom = await roomOf('group_id', 'groups', group.body.slug);
    expect((await synapseRoom(groupRoom))?.name).toBe('Climbers');
    await eventually(async () => (await members(groupRoom)).includes(mxid(owner.slug)));
    const op = await s.api('GET', `/v1/operations/chat-room:${group.body.slug}`, { token: owner.token });
    expect(op.body.entity).toEqual({ kind: 'group', slug: group.body.slug });

    const [a, b] = [await s.user('A'), await s.user('B')];
    const { slug } = await s.event(owner.token, { capacity: 1, chatEnabled: true });
    const roomId = await roomOf('event_id', 'events', slug);
    await s.api('POST', `/v1/events/${slug}/attendees`, { token: a.token, body: { status: 'going' } });
    await s.api('POST', `/v1/events/${slug}/attendees`, { token: b.token, body: { status: 'going' } });
    await eventually(async () => (await members(roomId)).includes(mxid(a.slug)));
    expect(await members(roomId)).not.toContain(mxid(b.slug)); // waitlisted people are not in the room
    await s.api('DELETE', `/v1/events/${slug}/attendees/me`, { token: a.token });
    await eventually(async () => {
      const m = await members(roomId);
      return m.includes(mxid(b.slug)) && !m.includes(mxid(a.slug));
    });
  });
});

describe('chat retention', () => {
  const admin = () => s.token('00000000-0000-4000-8000-000000000000', 'admin');

  async function seedRooms(ownerId: string, count: number, endedDaysAgo: number, tag: string) {
    const rooms: { alias: string; roomId: string }[] = [];
    const queue = Array.from({ length: count }, (_, i) => i);
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        const slug = `retention-${tag}-${i}-${Date.now().toString(36)}`;
        const end = new Date(Date.now() - endedDaysAgo * 86_400_000);
        const [event] = await s.ds.query(
          `INSERT INTO events (slug, name, start_at, end_at, time_zone, owner_id, chat_enabled)
           VALUES ($1, $1, $2, $3, 'UTC', $4, true) RETURNING id`, [slug, new Date(end.getTime() - 3_600_000), end, ownerId]);
        const alias = `meetflow-event-${slug}`;
        const roomId = await s.matrix!.createRoom(alias, slug, 'seeded for the retention test');
        await s.ds.query(`INSERT INTO chat_rooms (event_id, alias, room_id, status) VALUES ($1, $2, $3, 'active')`, [event.id, alias, roomId]);
        rooms.push({ alias, roomId });
      }
    }));
    return rooms;
  }

  // Heavy on purpose (hundreds of rooms on a real Synapse): each test sets the time it needs, and
  // no wait inside it is longer than that. On a warm 2-core machine the big one takes ~70 s.
  const RUN_TIMEOUT = 150_000;
  async function runRetention(body: Record<string, unknown>) {
    const started = await s.api('POST', '/v1/admin/chat-retention/run', { token: await admin(), body });
    expect(started.status).toBe(202);
    return s.finished(started.body.id, await admin(), { timeoutMs: RUN_TIMEOUT });
  }

  it('over 200 rooms of which 150 are past the period deletes exactly those 150; a second run changes nothing', { timeout: 600_000 }, async () => {
    const owner = await s.user('Retention Owner');
    const member = await s.user('Retention Member');
    const expired = await seedRooms(owner.id, 150, 45, 'old');
    const recent = await seedRooms(owner.id, 50, 5, 'new');
    // Some rooms have members, to be removed before the purge.
    const memberId = await s.matrix!.ensureUser(`mf-${member.slug}`, 'member');
    for (const r of expired.slice(0, 10)) await s.matrix!.invite(r.roomId, memberId);

    const [{ due }] = await s.ds.query(
      `SELECT count(*)::int AS due FROM chat_rooms c JOIN events e ON e.id = c.event_id
        WHERE c.status <> 'deleted' AND e.end_at < now() - interval '30 days'`);
    expect(due).toBeGreaterThanOrEqual(150);

    const dry = await runRetention({ dryRun: true, retentionDays: 30 });
    expect(dry.status).toBe('completed');
    expect(dry.result.found).toBe(due);
    expect(dry.result.deleted).toBe(0);
    expect(dry.result.wouldDelete).toEqual(expect.arrayContaining(expired.map((r) => r.alias)));
    expect(await synapseRoom(expired[0].roomId)).not.toBeNull();

    const run = await runRetention({ retentionDays: 30 });
    expect(run.status).toBe('completed');
    expect(run.result).toMatchObject({ found: due, deleted: due, failed: 0, failures: [] });
    for (const r of expired) expect(await synapseRoom(r.roomId), r.alias).toBeNull();
    for (const r of recent) expect(await synapseRoom(r.roomId), r.alias).not.toBeNull();
    const statuses = await s.ds.query(`SELECT status, count(*)::int AS n FROM chat_rooms WHERE alias = ANY($1) GROUP BY status`, [expired.map((r) => r.alias)]);
    expect(statuses).toEqual([{ status: 'deleted', n: 150 }]);

    const again = await runRetention({ retentionDays: 30 });
    expect(again.result).toMatchObject({ found: 0, deleted: 0 });
    for (const r of recent.slice(0, 5)) expect(await synapseRoom(r.roomId)).not.toBeNull();
  });

  it('a batch of rooms closes them side by side, goes on past a room that fails for good, and its retry closes only what its heartbeats left open', { timeout: 120_000 }, async () => {
    const owner = await s.user('Batch Owner');
    const seeded = await seedRooms(owner.id, 4, 60, 'batch');
    const rows: { id: string; alias: string; room_id: string }[] = await s.ds.query(
      `SELECT id, alias, room_id FROM chat_rooms WHERE alias = ANY($1) ORDER BY alias`, [seeded.map((r) => r.alias)]);
    let releaseFirst!: () => void;
    const secondPurging = new Promise<void>((r) => { releaseFirst = r; });
    // The third room's purge fails once (a proxy's 502: worth a retry).
    let failing: string | null = rows[2].room_id;
    let purging = 0;
    let mostPurging = 0;
    const listed: string[] = [];
    const flaky: MatrixClient = Object.create(s.matrix!);
    flaky.members = async (roomId) => { listed.push(roomId); return s.matrix!.members(roomId); };
    flaky.purgeRoom = async (roomId, beat) => {
      if (roomId === failing) { failing = null; throw new MatrixError(502, 'M_UNKNOWN', 'bad gateway'); }
      mostPurging = Math.max(mostPurging, ++purging);
      try {
        // The first room's purge waits for the second's to begin: two rooms close at once (one after the other, the test times out).
        if (roomId === rows[0].room_id) await secondPurging;
        if (roomId === rows[1].room_id) releaseFirst();
        return await s.matrix!.purgeRoom(roomId, beat);
      } finally { purging--; }
    };
    const { closeChatRooms } = retentionActivities({ ds: s.ds, matrix: flaky });
    // A room whose row is gone fails for good, between two that close.
    const batch = { rooms: [rows[0], { id: randomUUID(), alias: 'meetflow-event-gone' }, ...rows.slice(1)].map(({ id, alias }) => ({ id, alias })), notice: true, concurrency: 2 };
    const gone = { alias: 'meetflow-event-gone', reason: expect.stringMatching(/not found/) };

    const beats: { closed: number[]; failures: unknown[] }[] = [];
    const first = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    first.on('heartbeat', (d) => beats.push(d));
    await expect(first.run(closeChatRooms, batch)).rejects.toThrow(/502/);
    expect(mostPurging).toBe(2);
    // Whether the last room began before the third failed depends on timing; either way it was
    // closed whole or not touched, and the heartbeats say which.
    const last = beats.at(-1)!;
    expect(last.failures).toEqual([gone]);
    const lastClosed = last.closed.includes(4);
    expect([...last.closed].sort()).toEqual(lastClosed ? [0, 1, 2, 4] : [0, 1, 2]);
    const status = async () => Object.fromEntries((await s.ds.query(`SELECT alias, status FROM chat_rooms WHERE alias = ANY($1)`, [rows.map((r) => r.alias)]))
      .map((r: { alias: string; status: string }) => [r.alias, r.status]));
    expect(await status()).toEqual({
      [rows[0].alias]: 'deleted', [rows[1].alias]: 'deleted', [rows[2].alias]: 'purging', [rows[3].alias]: lastClosed ? 'deleted' : 'active',
    });

    // The retry, as Temporal starts it: with the last heartbeat's details. The room that failed
    // for good is reported once (it is not tried again), the closed ones are not touched, and the rest are closed.
    listed.length = 0;
    const retry = new MockActivityEnvironment({ heartbeatDetails: last, attempt: 2 }, { logger: new DefaultLogger('ERROR') });
    expect(await retry.run(closeChatRooms, batch)).toEqual({ failures: [gone] });
    expect(listed.sort()).toEqual((lastClosed ? [rows[2]] : [rows[2], rows[3]]).map((r) => r.room_id).sort());
    expect(Object.values(await status())).toEqual(['deleted', 'deleted', 'deleted', 'deleted']);
    for (const r of rows) expect(await synapseRoom(r.room_id), r.alias).toBeNull();
  });

  it('a cancelled batch takes no further room, and the rooms under way end closed', { timeout: 120_000 }, async () => {
    const owner = await s.user('Cancel Owner');
    const seeded = await seedRooms(owner.id, 4, 60, 'cancel');
    const rows: { id: string; alias: string; room_id: string }[] = await s.ds.query(
      `SELECT id, alias, room_id FROM chat_rooms WHERE alias = ANY($1) ORDER BY alias`, [seeded.map((r) => r.alias)]);
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    // The cancel lands while the first room is told; the second waits for it, so both lanes are under way.
    let cancelled!: () => void;
    const landed = new Promise<void>((r) => { cancelled = r; });
    const slow: MatrixClient = Object.create(s.matrix!);
    slow.sendNotice = async (roomId, txnId, body) => {
      if (roomId === rows[0].room_id) { env.cancel(); cancelled(); }
      if (roomId === rows[1].room_id) await landed;
      return s.matrix!.sendNotice(roomId, txnId, body);
    };
    const { closeChatRooms } = retentionActivities({ ds: s.ds, matrix: slow });
    await expect(env.run(closeChatRooms, { rooms: rows.map(({ id, alias }) => ({ id, alias })), notice: true, concurrency: 2 }))
      .rejects.toThrow(/cancelled/);
    const statuses = Object.fromEntries((await s.ds.query(`SELECT alias, status FROM chat_rooms WHERE alias = ANY($1)`, [rows.map((r) => r.alias)]))
      .map((r: { alias: string; status: string }) => [r.alias, r.status]));
    expect(statuses).toEqual({ [rows[0].alias]: 'deleted', [rows[1].alias]: 'deleted', [rows[2].alias]: 'active', [rows[3].alias]: 'active' });
    for (const r of rows.slice(0, 2)) expect(await synapseRoom(r.room_id), r.alias).toBeNull();
    for (const r of rows.slice(2)) expect(await synapseRoom(r.room_id), r.alias).not.toBeNull();
  });

  it('a room deleted by hand is success, and a homeserver that is down is waited for', { timeout: 300_000 }, async () => {
    const owner = await s.user('Outage Owner');
    const rooms = await seedRooms(owner.id, 4, 60, 'outage');
    await s.matrix!.purgeRoom(rooms[0].roomId); // gone before retention gets to it

    // Synapse unreachable for this test's own stack only (a door in front of it, shut): the
    // homeserver other test files use at the same time stays up.
    const matrix = await doorFor('MATRIX_HOMESERVER_URL');
    const own = await startStack(matrix.env);
    await own.startWorker();
    await matrix.door.shut();
    try {
      const started = await own.api('POST', '/v1/admin/chat-retention/run', { token: await admin(), body: { retentionDays: 30 } });
      // The run's closings retry with backoff while Synapse is down; nothing is marked deleted.
      const run = own.temporal.workflow.getHandle(started.body.id);
      await eventually(async () => {
        const pending = (await run.describe()).raw.pendingActivities ?? [];
        return pending.length > 0 && pending.every((a) => a.activityType?.name === 'closeChatRooms' && (a.attempt ?? 0) >= 2);
      }, { timeoutMs: 60_000, intervalMs: 250 });
      const waiting = await own.api('GET', `/v1/operations/${started.body.id}`, { token: await admin() });
      expect(waiting.body).toMatchObject({ status: 'running', progress: { step: 'deleting rooms', deleted: 0 } });
      const [{ n }] = await s.ds.query(`SELECT count(*)::int AS n FROM chat_rooms WHERE alias = ANY($1) AND status = 'deleted'`, [rooms.map((r) => r.alias)]);
      expect(n).toBe(0);

      await matrix.door.open();
      const done = await own.finished(started.body.id, await admin(), { timeoutMs: RUN_TIMEOUT });
      expect(done.status).toBe('completed');
      // Rooms of other tests in the shared database may be due too: this test counts its own.
      expect(done.result).toMatchObject({ failed: 0, failures: [] });
      expect(done.result.deleted).toBeGreaterThanOrEqual(4);
      for (const r of rooms) expect(await synapseRoom(r.roomId)).toBeNull();
      const statuses = await s.ds.query(`SELECT status, count(*)::int AS n FROM chat_rooms WHERE alias = ANY($1) GROUP BY status`, [rooms.map((r) => r.alias)]);
      expect(statuses).toEqual([{ status: 'deleted', n: 4 }]);
    } finally {
      await matrix.door.open();
      await own.close();
      await matrix.door.shut();
    }
  });
});

describe('chat disabled globally (CHAT_ENABLED=false)', () => {
  it('creates no room and nothing fails', async () => {
    const off = await startStack({ CHAT_ENABLED: 'false' });
    await off.startWorker();
    try {
      const owner = await off.user('No Chat');
      const created = await off.api('POST', '/v1/events', {
        token: owner.token,
        body: { name: 'Quiet', startAt: '2027-02-01T19:00:00Z', endAt: '2027-02-01T22:00:00Z', timeZone: 'UTC', chatEnabled: true },
      });
      expect(created.status).toBe(201);
      expect(created.body.operations).toEqual([]);
      const group = await off.api('POST', '/v1/groups', { token: owner.token, body: { name: 'Quiet Group', chatEnabled: true } });
      expect(group.body.operations).toEqual([]);
      const rsvp = await off.api('POST', `/v1/events/${created.body.slug}/attendees`, { token: owner.token, body: { status: 'going' } });
      expect(rsvp.body).toEqual({ status: 'confirmed', role: null, operations: [] });
      // Even a workflow started by hand ends quietly.
      const { requestChatSync } = await import('../../src/temporal/signals.ts');
      const id = await requestChatSync(off.temporal, off.config, { kind: 'event', slug: created.body.slug });
      expect(await off.temporal.workflow.getHandle(id).result()).toMatchObject({ state: 'disabled', roomId: null });
      const rows = await off.ds.query(`SELECT 1 FROM chat_rooms c JOIN events e ON e.id = c.event_id WHERE e.slug = $1`, [created.body.slug]);
      expect(rows).toEqual([]);
    } finally {
      await off.close();
    }
  });
});

describe('housekeeping schedules', () => {
  it('are created at worker start and brought up to date on the next start: chat retention daily, reconcile on its cron, overlap skip', async () => {
    const { ensureSchedules, CHAT_RETENTION_SCHEDULE, RECONCILE_SCHEDULE } = await import('../../src/temporal/schedules.ts');
    const { ScheduleOverlapPolicy } = await import('@temporalio/client');
    await ensureSchedules(s.temporal, s.config);
    await ensureSchedules(s.temporal, { ...s.config, CHAT_RETENTION_CRON: '30 4 2 1 *', CHAT_RETENTION_DAYS: 14, RECONCILE_CRON: '0 5 1 1 *' }); // never during a run
    const d = await s.temporal.schedule.getHandle(CHAT_RETENTION_SCHEDULE).describe();
    expect(d.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(d.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 4, end: 4, step: 1 }], minute: [{ start: 30, end: 30, step: 1 }] });
    expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'chatRetentionWorkflow', args: [{ retentionDays: 14 }] });
    expect(d.state.paused).toBe(false);
    const r = await s.temporal.schedule.getHandle(RECONCILE_SCHEDULE).describe();
    expect(r.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(r.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 5, end: 5, step: 1 }], dayOfMonth: [{ start: 1, end: 1, step: 1 }] });
    expect(r.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconcileWorkflow', workflowId: 'reconcile:scheduled' });
  });
});

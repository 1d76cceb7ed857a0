import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifySeatsChanged } from '../../src/temporal/signals.ts';
import { operationTags } from '../../src/temporal/contracts.ts';
import { seedAttendees } from '../helpers/seed.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';
import { spawnWorker } from '../helpers/worker-process.ts';

let s: Stack;
beforeAll(async () => { s = await startStack(); });
afterAll(async () => { await s?.close(); });

describe('worker process', () => {
  it('killed (SIGKILL) in the middle of the attendee batches: a new worker finishes the deletion, nothing twice, nothing left', async () => {
    const owner = await s.user('Owner');
    const { slug } = await s.event(owner.token);
    const total = 30_000;
    await seedAttendees(s.ds, slug, total);
    const [{ id: eventId }] = await s.ds.query(`SELECT id FROM events WHERE slug = $1`, [slug]);
    const remaining = async () => (await s.ds.query(`SELECT count(*)::int AS n FROM attendees WHERE event_id = $1`, [eventId]))[0].n as number;

    const first = await spawnWorker(s);
    const handle = await s.temporal.workflow.start('deleteEventWorkflow', {
      ...operationTags('delete-event', slug), taskQueue: s.config.TEMPORAL_TASK_QUEUE,
      args: [{ eventSlug: slug, batchSize: 100, maxBatchesPerActivity: 1000 }],
    });
    await eventually(async () => (await remaining()) < total - 500, { intervalMs: 10 });
    first.child.kill('SIGKILL');
    await first.exited;
    const left = await remaining();
    expect(left).toBeGreaterThan(0); // killed mid-way, not after

    const second = await spawnWorker(s);
    try {
      const result = await handle.result();
      expect(result).toMatchObject({ step: 'done', attendeesTotal: total, attendeesRemoved: total });
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
    expect(await remaining()).toBe(0);
    expect(await s.ds.query(`SELECT 1 FROM events WHERE id = $1`, [eventId])).toEqual([]);
    const history = await handle.fetchHistory();
    // The killed attempt timed out on its heartbeat and its retry finished the batches; no step failed.
    const attempts = history.events?.flatMap((e) => e.activityTaskStartedEventAttributes?.attempt ?? []) ?? [];
    expect(Math.max(...attempts)).toBe(2);
    expect(history.events?.filter((e) => e.activityTaskFailedEventAttributes || e.activityTaskTimedOutEventAttributes)).toHaveLength(0);
  }, 120_000);

  it('on SIGTERM mid-activity lets the activity finish, then exits 0', async () => {
    const owner = await s.user('Owner');
    const guest = await s.user('Guest');
    const { slug } = await s.event(owner.token, { capacity: 1 });
    await s.api('POST', `/v1/events/${slug}/attendees`, { token: owner.token, body: { status: 'going' } });
    await s.api('POST', `/v1/events/${slug}/attendees`, { token: guest.token, body: { status: 'going' } });
    // Free the seat without the API (so no promotion starts yet) ...
    await s.ds.query(`UPDATE attendees SET status = 'cancelled' FROM events e WHERE e.id = event_id AND e.slug = $1 AND user_id = $2`, [slug, owner.id]);

    const { child: worker, log, exited } = await spawnWorker(s);

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
    expect(code, log.text).toBe(0);
    expect(log.text).toContain('worker stopped');
    const [row] = await s.ds.query(`SELECT a.status FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1 AND a.user_id = $2`, [slug, guest.id]);
    expect(row.status).toBe('confirmed');
    // The promotion is a local activity: finished and recorded (its marker) before the worker left.
    const history = await s.temporal.workflow.getHandle(opId).fetchHistory();
    expect(history.events?.some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toBe(true);
  });
});

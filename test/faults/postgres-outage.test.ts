import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { doorFor, type Door } from '../helpers/door.ts';
import { rowsReferencingEvent, seedAttendees } from '../helpers/seed.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';

// Postgres restarted under a running deletion, as this stack's API and worker see it: a TCP door
// in front of the real server cuts every connection and refuses new ones for a while, then opens.
let door: Door;
let s: Stack;
beforeAll(async () => {
  const postgres = await doorFor('DATABASE_URL');
  door = postgres.door;
  s = await startStack(postgres.env);
  await s.startWorker();
}, 120_000);
afterAll(async () => { await door?.open(); await s?.close(); await door?.shut(); vi.restoreAllMocks(); });

describe('Postgres restarted in the middle of a 100k-attendee deletion', () => {
  it('the deletion carries on where it was once the database is back, and leaves nothing behind', { timeout: 600_000 }, async () => {
    const owner = await s.user('Owner');
    const { slug } = await s.event(owner.token);
    await seedAttendees(s.ds, slug, 100_000);
    const [{ id }] = await s.ds.query(`SELECT id FROM events WHERE slug = $1`, [slug]);

    // Small batches, so the cut lands between them; started directly, as the API would.
    const handle = await s.temporal.workflow.start('deleteEventWorkflow', {
      workflowId: `delete-event:${slug}`, taskQueue: s.config.TEMPORAL_TASK_QUEUE,
      args: [{ eventSlug: slug, batchSize: 1000, maxBatchesPerActivity: 5 }],
    });
    const progress = () => handle.query<{ step: string; attendeesRemoved: number; attendeesTotal: number }>('progress');
    await eventually(async () => (await progress()).attendeesRemoved > 0, { timeoutMs: 120_000, intervalMs: 20 });
    const atCut = (await progress()).attendeesRemoved;
    await door.shut();
    await eventually(async () => {
      const d = await handle.describe();
      return (d.raw.pendingActivities ?? []).some((a) => (a.attempt ?? 0) >= 2); // it is failing, and retried
    }, { timeoutMs: 60_000, intervalMs: 200 });
    await door.open();

    const result = await handle.result();
    expect(atCut).toBeLessThan(100_000); // the cut was in the middle
    expect(result).toMatchObject({ step: 'done', attendeesTotal: 100_000, attendeesRemoved: 100_000 });
    expect(Object.values(await rowsReferencingEvent(s.ds, id)).every((n) => n === 0)).toBe(true);
    expect(await s.ds.query(`SELECT 1 FROM events WHERE slug = $1`, [slug])).toEqual([]);
    // The API serves again on fresh connections.
    expect((await s.api('GET', '/v1/events', { token: owner.token })).status).toBe(200);
  });

  it('a lone event\'s one-step deletion, refused by the database, is retried whole: nothing half-done', { timeout: 300_000 }, async () => {
    const owner = await s.user('Owner');
    const { slug } = await s.event(owner.token);
    await seedAttendees(s.ds, slug, 2000);
    const [{ id }] = await s.ds.query(`SELECT id FROM events WHERE slug = $1`, [slug]);

    await door.shut();
    // A short task timeout: the worker soon reports a task whose local step is still being retried.
    const handle = await s.temporal.workflow.start('deleteEventWorkflow', {
      workflowId: `delete-event:${slug}`, taskQueue: s.config.TEMPORAL_TASK_QUEUE, args: [{ eventSlug: slug }], workflowTaskTimeout: '2s',
    });
    // Its step keeps failing and is retried: the worker reports its first task to keep it alive
    // (a local step outlasting the task's timeout) while the run goes on.
    await eventually(async () => (await handle.fetchHistory()).events!.some((e) => e.workflowTaskCompletedEventAttributes),
      { timeoutMs: 60_000, intervalMs: 500 });
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await door.open();

    expect(await handle.result()).toMatchObject({ step: 'done', attendeesTotal: 2000, attendeesRemoved: 2000 });
    expect(Object.values(await rowsReferencingEvent(s.ds, id)).every((n) => n === 0)).toBe(true);
    expect(await s.ds.query(`SELECT 1 FROM events WHERE slug = $1`, [slug])).toEqual([]);
  });
});

describe('a request while Postgres stops answering (hung, or cut off without a reset)', () => {
  it('answers 503 database_timeout a little after the statement timeout, and the API serves again once Postgres answers', { timeout: 180_000 }, async () => {
    const postgres = await doorFor('DATABASE_URL');
    const stalled = await startStack({ ...postgres.env, DB_STATEMENT_TIMEOUT_MS: '1000' });
    try {
      const owner = await stalled.user('Owner');
      const { slug } = await stalled.event(owner.token);
      postgres.door.stall();
      // A stopped server cannot enforce statement_timeout: without the client's own timeout this
      // request never answered (the test's timeout).
      const res = await stalled.api('GET', `/v1/events/${slug}`, { token: owner.token });
      expect([res.status, res.body.error?.code]).toEqual([503, 'database_timeout']);
      await postgres.door.open();
      await eventually(async () => (await stalled.api('GET', `/v1/events/${slug}`, { token: owner.token })).status === 200, { timeoutMs: 60_000, intervalMs: 500 });
    } finally {
      await postgres.door.open();
      await stalled.close();
      await postgres.door.shut();
    }
  });
});

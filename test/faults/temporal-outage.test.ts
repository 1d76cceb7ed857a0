import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { eventTombstoneActivities } from '../../src/activities/deletion/event.ts';
import { followUpRelay } from '../../src/follow-ups/outbox.ts';
import { doorFor, type Door } from '../helpers/door.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';

// This stack's Temporal made unreachable (a TCP door in front of the real dev server, shut) while
// writes go through the API: each commits and answers at once with its follow-ups pending; once
// Temporal is back the relay delivers them, and each one's effect is there exactly once. Then a
// Temporal that hangs (the door stalled): a request that needs it answers 503 by its deadline.
let door: Door;
let s: Stack;
beforeAll(async () => {
  const temporal = await doorFor('TEMPORAL_ADDRESS');
  door = temporal.door;
  s = await startStack({ ...temporal.env, TEMPORAL_REQUEST_TIMEOUT_MS: '2000' });
  await s.startWorker();
});
afterAll(async () => { await door?.open(); await s?.close(); await door?.shut(); });

const N = 10;
const DAY = 86_400_000;

describe('writes while Temporal is unreachable', () => {
  it('100 mixed writes commit with their follow-ups; after the outage each follow-up takes effect once, no row is duplicated', { timeout: 600_000 }, async () => {
    const owner = await s.user('Owner');
    const people = [await s.user('P1'), await s.user('P2'), await s.user('P3'), await s.user('P4')];
    const start = new Date(Date.now() + 2 * DAY);
    start.setUTCSeconds(0, 0);
    const at = (ms: number) => new Date(start.getTime() + ms).toISOString();
    await door.shut();

    // Creates, each sent twice with one key (a client retrying after a timeout): 40 writes.
    const create = async (path: string, body: object) => {
      const key = randomUUID();
      const first = await s.api('POST', path, { token: owner.token, body, headers: { 'Idempotency-Key': key } });
      const retry = await s.api('POST', path, { token: owner.token, body, headers: { 'Idempotency-Key': key } });
      expect([first.status, retry.status]).toEqual([201, 201]);
      expect(retry.body.slug).toBe(first.body.slug);
      return first.body as { slug: string; operations: { pending?: true }[] };
    };
    const events = await Promise.all(Array.from({ length: N }, (_, i) =>
      create('/v1/events', { name: `Outage Event ${i}`, startAt: at(0), endAt: at(3_600_000), timeZone: 'UTC', capacity: 2 })));
    const series = await Promise.all(Array.from({ length: N }, (_, i) =>
      create('/v1/series', { name: `Outage Series ${i}`, rrule: 'FREQ=DAILY;COUNT=5', startAt: at(0), endAt: at(3_600_000), timeZone: 'UTC' })));
    expect(series.every((x) => x.operations.length === 1 && x.operations[0].pending)).toBe(true);

    // Four RSVPs per event, in order (two confirmed, two waitlisted): 40 writes.
    await Promise.all(events.map(async ({ slug }) => {
      for (const p of people) expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: p.token, body: { status: 'going' } })).status).toBe(200);
    }));
    // The first person cancels everywhere (the seat goes to the next waiting person in the same
    // transaction: Temporal is not needed), and each series is renamed: 20 writes.
    const cancels = await Promise.all(events.map(({ slug }) => s.api('DELETE', `/v1/events/${slug}/attendees/me`, { token: people[0].token })));
    expect(cancels.map((c) => c.status)).toEqual(Array(N).fill(200));
    const promoted: { n: number }[] = await s.ds.query(
      `SELECT count(*)::int AS n FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = ANY($1) AND a.user_id = $2 AND a.status = 'confirmed'`,
      [events.map((x) => x.slug), people[2].id]);
    expect(promoted).toEqual([{ n: N }]);
    const renames = await Promise.all(series.map(({ slug }, i) => s.api('PATCH', `/v1/series/${slug}`, { token: owner.token, body: { name: `Renamed ${i}` } })));
    expect(renames.map((r) => r.status)).toEqual(Array(N).fill(200));
    const [recorded] = await s.ds.query(`SELECT count(*)::int AS n FROM follow_ups`);
    expect(recorded.n).toBeGreaterThanOrEqual(N); // at least a materialization per series

    await door.open();
    const seriesSlugs = series.map((x) => x.slug);
    const eventSlugs = events.map((x) => x.slug);
    let state: unknown;
    const done = async () => {
      const [left] = await s.ds.query(`SELECT count(*)::int AS n FROM follow_ups WHERE slug = ANY($1)`, [[...seriesSlugs, ...eventSlugs]]);
      const occurrences: { slug: string; n: number; renamed: number }[] = await s.ds.query(
        `SELECT e.series_slug AS slug, count(*)::int AS n, count(*) FILTER (WHERE e.name LIKE 'Renamed %')::int AS renamed
           FROM events e WHERE e.series_slug = ANY($1) GROUP BY e.series_slug`, [seriesSlugs]);
      const unmaterialized = occurrences.filter((o) => o.n !== 5 || o.renamed !== 5);
      state = { followUpsLeft: left.n, unmaterialized };
      return left.n === 0 && !unmaterialized.length && occurrences.length === N;
    };
    await eventually(done, { timeoutMs: 300_000, intervalMs: 1000 }).catch(async (err: Error) => {
      const { unmaterialized } = state as { unmaterialized: { slug: string }[] };
      const where = await Promise.all(unmaterialized.map((x) => s.whereIs(`series:${x.slug}`)));
      const busy = await s.ds.query(`SELECT pid, state, wait_event_type, now() - xact_start AS age, left(query, 200) AS query FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`);
      throw new Error(`${err.message}; state: ${JSON.stringify(state)}; ${where.join(' | ')}; busy connections: ${JSON.stringify(busy)}`);
    });

    // Exactly once in effect, no duplicates: one row per create, five occurrences per series, and
    // the people who stayed are the ones confirmed (P2, then P3 promoted), P4 still waiting.
    const [counts] = await s.ds.query(
      `SELECT (SELECT count(*)::int FROM events WHERE owner_id = $1 AND series_slug IS NULL) AS events,
              (SELECT count(*)::int FROM event_series WHERE owner_id = $1) AS series`, [owner.id]);
    expect(counts).toEqual({ events: N, series: N });
    const statuses: { status: string; n: number }[] = await s.ds.query(
      `SELECT u.display_name || ':' || a.status AS status, count(*)::int AS n FROM attendees a JOIN users u ON u.id = a.user_id
         JOIN events e ON e.id = a.event_id WHERE e.slug = ANY($1) GROUP BY 1 ORDER BY 1`, [eventSlugs]);
    expect(statuses).toEqual([
      { status: 'P1:cancelled', n: N }, { status: 'P2:confirmed', n: N }, { status: 'P3:confirmed', n: N }, { status: 'P4:waitlisted', n: N },
    ]);
  });
});

describe('the outbox of a raised capacity while Temporal is unreachable', () => {
  it('the raise commits with its promotion recorded; once Temporal is back the relay delivers it and the next person is promoted', { timeout: 300_000 }, async () => {
    const owner = await s.user('Owner');
    const [a, b] = [await s.user('A'), await s.user('B')];
    const { slug } = await s.event(owner.token, { capacity: 1 });
    expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: a.token, body: { status: 'going' } })).body.status).toBe('confirmed');
    expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: b.token, body: { status: 'going' } })).body.status).toBe('waitlisted');

    await door.shut();
    const raised = await s.api('PATCH', `/v1/events/${slug}`, { token: owner.token, body: { capacity: 2 } });
    expect(raised.status).toBe(200);
    expect(raised.body.operations).toEqual([{ id: `waitlist:${slug}`, type: 'waitlist', pending: true }]);
    const [waiting] = await s.ds.query(`SELECT count(*)::int AS n FROM follow_ups WHERE slug = $1`, [slug]);
    expect(waiting.n).toBe(1); // committed with the raise, not lost with the failed call
    // The owner's retry changes nothing and records nothing more.
    expect((await s.api('PATCH', `/v1/events/${slug}`, { token: owner.token, body: { capacity: 2 } })).body.operations).toEqual([]);

    await door.open();
    const status = async () => (await s.ds.query(
      `SELECT a.status FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1 AND a.user_id = $2`, [slug, b.id]))[0]?.status;
    await eventually(async () => (await status()) === 'confirmed', { timeoutMs: 180_000, intervalMs: 500 });
    await eventually(async () => (await s.ds.query(`SELECT 1 FROM follow_ups WHERE slug = $1`, [slug])).length === 0, { timeoutMs: 30_000 });
    const counts = (await s.api('GET', `/v1/events/${slug}`, { token: owner.token })).body.attendeeCounts;
    expect(counts).toEqual({ confirmed: 2, waitlisted: 0, maybe: 0 });
  });
});

describe('a request while Temporal accepts connections and never answers', () => {
  it('answers 503 temporal_unavailable by its deadline, having started nothing; the same request works once Temporal answers', { timeout: 180_000 }, async () => {
    const owner = await s.user('Owner');
    const { slug } = await s.event(owner.token);
    door.stall();
    try {
      // Without a deadline on its Temporal calls, this request never answered (the test's timeout).
      const deleting = await s.api('DELETE', `/v1/events/${slug}`, { token: owner.token });
      expect([deleting.status, deleting.body.error?.code]).toEqual([503, 'temporal_unavailable']);
      const op = await s.api('GET', `/v1/operations/delete-event:${slug}`, { token: owner.token });
      expect([op.status, op.body.error?.code]).toEqual([503, 'temporal_unavailable']);
      // What needs no workflow goes on; the event is untouched (no tombstone: no run began).
      expect((await s.api('GET', `/v1/events/${slug}`, { token: owner.token })).status).toBe(200);
    } finally {
      await door.open();
    }
    // Retried as its Retry-After says, until the client's connection is back: 202. A try made while
    // the connection comes back may start the run and still run out of time (503, CI saw it); the
    // next finds the run (202) or, once it has ended, the event gone (404). Either way one run deleted it.
    await eventually(async () => [202, 404].includes((await s.api('DELETE', `/v1/events/${slug}`, { token: owner.token })).status), { timeoutMs: 60_000, intervalMs: 1000 });
    expect((await s.finished(`delete-event:${slug}`, owner.token, { timeoutMs: 60_000 })).status).toBe('completed');
    expect(await s.ds.query(`SELECT 1 FROM events WHERE slug = $1`, [slug])).toEqual([]);
  });
});

/** An activity context as a run of `delete-event` gives it. */
const inRun = (runId: string) => new MockActivityEnvironment({ workflowExecution: { workflowId: 'delete-event:test', runId } }, { logger: new DefaultLogger('ERROR') });

describe('a lone event deleted while Temporal is unreachable', () => {
  it('its one step answers the deletion\'s report and names the operations it could not cancel, for a step of their own', { timeout: 120_000 }, async () => {
    const owner = await s.user('Owner');
    const { slug } = await s.event(owner.token);
    for (const name of ['G1', 'G2']) {
      expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: (await s.user(name)).token, body: { status: 'going' } })).status).toBe(200);
    }
    const { tombstoneEvent } = eventTombstoneActivities({
      ds: s.ds, temporal: s.temporal, config: s.config, followUps: followUpRelay({ ds: s.ds, temporal: s.temporal, config: s.config }),
    });
    const others = [`waitlist:${slug}`, `chat-room:${slug}`];
    await door.shut();
    try {
      // The step as the worker runs it, its cancels failing (refused, then out of time) beside its committed transaction.
      const event = await s.temporal.connection.withDeadline(Date.now() + 2000,
        () => inRun(randomUUID()).run(tombstoneEvent, slug, others, { attendees: 100, inSeriesDeletion: false }));
      expect(event).toMatchObject({ deleted: true, attendees: 2, cancelsLeft: others });
      expect(await s.ds.query(`SELECT 1 FROM events WHERE slug = $1`, [slug])).toEqual([]);
    } finally {
      await door.open();
    }
  });
});

describe('a lone event\'s one step run again after its commit (its worker died before reporting)', () => {
  it('answers the report it kept, for that run only', async () => {
    const owner = await s.user('Owner');
    const { slug } = await s.event(owner.token);
    for (const name of ['R1', 'R2', 'R3']) {
      expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: (await s.user(name)).token, body: { status: 'going' } })).status).toBe(200);
    }
    const { tombstoneEvent } = eventTombstoneActivities({
      ds: s.ds, temporal: s.temporal, config: s.config, followUps: followUpRelay({ ds: s.ds, temporal: s.temporal, config: s.config }),
    });
    const alone = { attendees: 100, inSeriesDeletion: false };
    const runId = randomUUID();
    const first = await inRun(runId).run(tombstoneEvent, slug, [], alone);
    expect(first).toMatchObject({ deleted: true, attendees: 3 });
    expect(await s.ds.query(`SELECT 1 FROM events WHERE slug = $1`, [slug])).toEqual([]);
    expect(await inRun(runId).run(tombstoneEvent, slug, [], alone)).toEqual(first);
    expect(await inRun(randomUUID()).run(tombstoneEvent, slug, [], alone)).toBeNull(); // another run: the event is simply gone
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDatabase } from '../helpers/own-database.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';

// The reconciler looks at every row: it runs against a database of its own (same Postgres,
// migrated here), so it never repairs, nor races, what other test files set up on purpose.
let db: Awaited<ReturnType<typeof ownDatabase>>;
let s: Stack;
beforeAll(async () => {
  db = await ownDatabase('meetflow_reconcile');
  s = await startStack({ DATABASE_URL: db.url });
  await s.startWorker();
});
afterAll(async () => {
  await s?.close();
  await db?.drop();
});

describe('the reconciler', () => {
  it('finds divergence that slipped past the outbox and repairs it, reporting what it did; a second run finds nothing', async () => {
    const admin = await s.token(randomUUID(), 'admin');
    const owner = await s.user('Owner');
    const [a, b] = [await s.user('A'), await s.user('B')];
    const run = async () => {
      const op = await s.api('POST', '/v1/admin/reconcile/run', { token: admin, body: {} });
      expect(op.status).toBe(202);
      return (await s.finished(op.body.id, admin, { timeoutMs: 120_000 })).result;
    };

    // 1. A freed seat whose wake-up was lost: A cancelled by hand, B still waiting.
    const full = await s.event(owner.token, { capacity: 1 });
    await s.api('POST', `/v1/events/${full.slug}/attendees`, { token: a.token, body: { status: 'going' } });
    await s.api('POST', `/v1/events/${full.slug}/attendees`, { token: b.token, body: { status: 'going' } });
    await s.ds.query(`UPDATE attendees SET status = 'cancelled' WHERE user_id = $1`, [a.id]);
    // 2. A series whose materializer is gone (terminated) and whose occurrences were lost.
    const start = new Date(Date.now() + 2 * 86_400_000);
    start.setUTCSeconds(0, 0);
    const series = (await s.api('POST', '/v1/series', { token: owner.token, body: {
      name: 'Weekly', rrule: 'FREQ=WEEKLY', startAt: start.toISOString(), endAt: new Date(start.getTime() + 3_600_000).toISOString(), timeZone: 'UTC',
    } })).body;
    const occurrences = async () => (await s.ds.query(`SELECT count(*)::int AS n FROM events WHERE series_slug = $1`, [series.slug]))[0].n as number;
    await eventually(async () => (await occurrences()) > 1);
    await s.temporal.workflow.getHandle(`series:${series.slug}`).terminate('lost, for the test');
    await s.ds.query(`DELETE FROM events WHERE series_slug = $1 AND id <> (SELECT template_event_id FROM event_series WHERE slug = $1)`, [series.slug]);
    await s.ds.query(`UPDATE event_series SET materialized_until = NULL WHERE slug = $1`, [series.slug]);
    // 3. A tombstone whose deletion stopped two hours ago.
    const stuck = await s.event(owner.token);
    await s.ds.query(`UPDATE events SET status_before_delete = status, status = 'deleting', updated_at = now() - interval '2 hours' WHERE slug = $1`, [stuck.slug]);
    // 4. A chat-enabled event whose room was never asked for.
    const chatty = await s.event(owner.token, { chatEnabled: false });
    await s.ds.query(`UPDATE events SET chat_enabled = true WHERE slug = $1`, [chatty.slug]);

    // 5. An event to publish whose follow-up was lost: its owner connected Bluesky behind meetflow's back.
    const poster = await s.user('Poster');
    const unpublished = await s.event(poster.token, { publishToBluesky: true });
    await s.ds.query(`UPDATE users SET did = 'did:plc:reconcileposter', bluesky_connected = true WHERE id = $1`, [poster.id]);

    const report = await run();
    expect(report).toMatchObject({ waitlists: 1, materializers: 1, deletions: 1, chatRooms: 1, publications: 1, seriesPublications: 0 });
    expect(report.examples).toEqual(expect.arrayContaining([
      `waitlist:${full.slug}`, `series:${series.slug}`, `delete-event:${stuck.slug}`, `chat-room:${chatty.slug}`, `bsky-publisher:${poster.id}`,
    ]));
    // The owner's publisher was asked for that event; with no session stored it disconnects the owner.
    const publisher = await s.finished(`bsky-publisher:${poster.id}`, admin, { timeoutMs: 60_000 });
    expect(publisher).toMatchObject({ status: 'failed', error: { type: 'BlueskySessionRevoked' } });
    expect((await s.ds.query(`SELECT bluesky_uri FROM events WHERE slug = $1`, [unpublished.slug]))[0].bluesky_uri).toBeNull();
    const bStatus = async () => (await s.ds.query(`SELECT status FROM attendees WHERE user_id = $1`, [b.id]))[0].status;
    await eventually(async () => (await bStatus()) === 'confirmed');
    await eventually(async () => (await occurrences()) > 1);
    await eventually(async () => (await s.ds.query(`SELECT 1 FROM events WHERE slug = $1`, [stuck.slug])).length === 0);
    await eventually(async () => (await s.ds.query(
      `SELECT 1 FROM chat_rooms c JOIN events e ON e.id = c.event_id WHERE e.slug = $1 AND c.status = 'active'`, [chatty.slug])).length === 1,
    { timeoutMs: 60_000 });

    expect(await run()).toMatchObject({ waitlists: 0, materializers: 0, deletions: 0, chatRooms: 0, publications: 0, seriesPublications: 0, examples: [] });
  });
});

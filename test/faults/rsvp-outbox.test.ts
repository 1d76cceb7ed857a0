import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Door } from '../helpers/door.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';

let door: Door;
let s: Stack;
beforeAll(async () => {
  door = await Door.create(process.env.TEMPORAL_ADDRESS!);
  s = await startStack({ TEMPORAL_ADDRESS: `127.0.0.1:${door.port}` });
  await s.startWorker();
});
afterAll(async () => { await door?.open(); await s?.close(); await door?.shut(); });

describe('the RSVP outbox while Temporal is unreachable', () => {
  it('a cancellation commits with its promotion recorded; once Temporal is back the relay delivers it and the next person is promoted', { timeout: 300_000 }, async () => {
    const owner = await s.user('Owner');
    const [a, b] = [await s.user('A'), await s.user('B')];
    const { slug } = await s.event(owner.token, { capacity: 1 });
    expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: a.token, body: { status: 'going' } })).body.status).toBe('confirmed');
    expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: b.token, body: { status: 'going' } })).body.status).toBe('waitlisted');

    await door.shut();
    const cancelled = await s.api('DELETE', `/v1/events/${slug}/attendees/me`, { token: a.token });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', operations: [{ id: `waitlist:${slug}`, type: 'waitlist', pending: true }] });
    const [waiting] = await s.ds.query(`SELECT count(*)::int AS n FROM follow_ups WHERE slug = $1`, [slug]);
    expect(waiting.n).toBe(1); // committed with the cancellation, not lost with the failed call
    // A's retry changes nothing and records nothing more.
    expect((await s.api('DELETE', `/v1/events/${slug}/attendees/me`, { token: a.token })).body).toMatchObject({ status: 'cancelled', operations: [] });

    await door.open();
    const status = async () => (await s.ds.query(
      `SELECT a.status FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1 AND a.user_id = $2`, [slug, b.id]))[0]?.status;
    await eventually(async () => (await status()) === 'confirmed', { timeoutMs: 180_000, intervalMs: 500 });
    await eventually(async () => (await s.ds.query(`SELECT 1 FROM follow_ups WHERE slug = $1`, [slug])).length === 0, { timeoutMs: 30_000 });
    const counts = (await s.api('GET', `/v1/events/${slug}`, { token: owner.token })).body.attendeeCounts;
    expect(counts).toEqual({ confirmed: 1, waitlisted: 0, maybe: 0 });
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doorFor, type Door } from '../helpers/door.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';

// This stack reaches Synapse through a door: shut, the deletion waits before its point of no
// return (closing the chat room), where an operator cancels it.
let door: Door;
let s: Stack;
beforeAll(async () => {
  const matrix = await doorFor('MATRIX_HOMESERVER_URL');
  door = matrix.door;
  s = await startStack(matrix.env);
  await s.startWorker();
});
afterAll(async () => { await door?.open(); await s?.close(); await door?.shut(); });

describe('a deletion cancelled before its point of no return', () => {
  it('is compensated: the tombstone is lifted and the event, its attendees and its room are as they were', async () => {
    const owner = await s.user('Host');
    const guest = await s.user('Guest');
    const { slug } = await s.event(owner.token, { capacity: 5, chatEnabled: true });
    await s.api('POST', `/v1/events/${slug}/attendees`, { token: guest.token, body: { status: 'going' } });
    const [room] = await eventually(async () => {
      const rows = await s.ds.query(`SELECT c.id, c.room_id, c.status FROM chat_rooms c JOIN events e ON e.id = c.event_id WHERE e.slug = $1 AND c.room_id IS NOT NULL`, [slug]);
      return rows.length ? rows : null;
    });
    const before = await s.ds.query(`SELECT status, capacity, name FROM events WHERE slug = $1`, [slug]);

    await door.shut();
    const started = await s.api('DELETE', `/v1/events/${slug}`, { token: owner.token });
    expect(started.status).toBe(202);
    const admin = await s.token(randomUUID(), 'admin');
    await eventually(async () => (await s.api('GET', `/v1/operations/${started.body.id}`, { token: owner.token })).body.progress?.step === 'deleting chat room',
      { timeoutMs: 60_000 });
    // Meanwhile the event is tombstoned: no RSVPs.
    expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: owner.token, body: { status: 'going' } })).body.error.code).toBe('event_deleting');

    const cancel = await s.api('POST', `/v1/operations/${started.body.id}/cancel`, { token: admin });
    expect(cancel.status).toBe(202);
    const op = await s.finished(started.body.id, owner.token, { timeoutMs: 120_000 });
    expect(op.status).toBe('cancelled');
    await door.open();

    expect(await s.ds.query(`SELECT status, capacity, name FROM events WHERE slug = $1`, [slug])).toEqual(before);
    expect(await s.ds.query(`SELECT a.status FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1`, [slug])).toEqual([{ status: 'confirmed' }]);
    expect(await s.ds.query(`SELECT id, room_id, status FROM chat_rooms WHERE id = $1`, [room.id])).toEqual([room]);
    // The room is still there, and its members are (back) in it.
    await eventually(async () => (await s.matrix!.members(room.room_id)).includes(`@mf-${guest.slug}:localhost`), { timeoutMs: 60_000 });
    expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: owner.token, body: { status: 'going' } })).body.status).toBe('confirmed');
  });
});

describe('a series deletion cancelled mid-way', () => {
  it('stops: what passed its point of no return stays deleted, the rest is back, the series stays hidden until a new DELETE finishes it', { timeout: 300_000 }, async () => {
    const owner = await s.user('Series Host');
    const start = new Date(Date.now() + 86_400_000);
    const created = await s.api('POST', '/v1/series', { token: owner.token, body: {
      name: 'Cancelled deletion', rrule: 'FREQ=DAILY;COUNT=3', timeZone: 'UTC', chatEnabled: true,
      startAt: start.toISOString(), endAt: new Date(start.getTime() + 3_600_000).toISOString(),
    } });
    expect(created.status).toBe(201);
    const slug: string = created.body.slug;
    const occurrences = `SELECT slug, status FROM events WHERE series_slug = $1 ORDER BY start_at`;
    // Three occurrences; a room comes with the first attendee: the template (the first) gets one.
    const guest = await s.user('Series Guest');
    const [{ slug: templateSlug }] = await s.ds.query(`SELECT e.slug FROM event_series x JOIN events e ON e.id = x.template_event_id WHERE x.slug = $1`, [slug]);
    expect((await s.api('POST', `/v1/events/${templateSlug}/attendees`, { token: guest.token, body: { status: 'going' } })).body.status).toBe('confirmed');
    const [template] = await eventually(async () => {
      const rows = await s.ds.query(
        `SELECT e.slug, e.status FROM event_series x JOIN events e ON e.id = x.template_event_id JOIN chat_rooms c ON c.event_id = e.id
          WHERE x.slug = $1 AND c.room_id IS NOT NULL`, [slug]);
      return rows.length && (await s.ds.query(occurrences, [slug])).length === 3 ? rows : null;
    }, { timeoutMs: 120_000 });

    await door.shut();
    const started = await s.api('DELETE', `/v1/series/${slug}`, { token: owner.token });
    expect(started.status).toBe(202);
    // The two without a room are deleted; the template's deletion waits at its room, before its point of no return.
    await eventually(async () => (await s.api('GET', `/v1/operations/${started.body.id}`, { token: owner.token })).body.progress?.childrenDone === 2,
      { timeoutMs: 60_000 });
    await eventually(async () => (await s.api('GET', `/v1/operations/delete-event:${template.slug}`, { token: owner.token })).body.progress?.step === 'deleting chat room',
      { timeoutMs: 60_000 });
    const admin = await s.token(randomUUID(), 'admin');
    expect((await s.api('POST', `/v1/operations/${started.body.id}/cancel`, { token: admin })).status).toBe(202);
    expect((await s.finished(started.body.id, owner.token, { timeoutMs: 120_000 })).status).toBe('cancelled');
    // The template was restored by its own deletion; the series stays tombstoned: hidden, not materialized.
    expect(await s.ds.query(occurrences, [slug])).toEqual([template]);
    expect((await s.api('GET', `/v1/series/${slug}`, { token: owner.token })).status).toBe(404);

    await door.open();
    const again = await s.api('DELETE', `/v1/series/${slug}`, { token: owner.token });
    expect(again.status).toBe(202);
    const done = await s.finished(again.body.id, owner.token, { timeoutMs: 240_000 });
    expect(done.status).toBe('completed');
    expect(done.result).toMatchObject({ scope: 'all', childrenDone: 1, failed: [] });
    expect(await s.ds.query(`SELECT 1 FROM event_series WHERE slug = $1`, [slug])).toEqual([]);
    expect(await s.ds.query(occurrences, [slug])).toEqual([]);
  });
});

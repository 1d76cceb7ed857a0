import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';

// Registrations with roles on the real Postgres, Temporal worker (waitlist promotion) and API.
let s: Stack;
beforeAll(async () => { s = await startStack(); await s.startWorker(); });
afterAll(async () => { await s?.close(); });

type User = Awaited<ReturnType<Stack['user']>>;
const going = (slug: string, u: User, body: object = {}) => s.api('POST', `/v1/events/${slug}/attendees`, { token: u.token, body: { status: 'going', ...body } });
const statusOf = async (slug: string, u: User) => (await s.ds.query(
  `SELECT a.status, a.registration_role AS role FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1 AND a.user_id = $2`, [slug, u.id]))[0];

describe('registrations with roles', () => {
  it('capacity and waitlist per role; notes for organizers only; counts per role; an event without roles is as before', async () => {
    const owner = await s.user('Organizer');
    const people = await Promise.all(['V1', 'V2', 'A1', 'A2', 'A3'].map((n) => s.user(n)));
    const [v1, v2, a1, a2, a3] = people;
    const { slug } = await s.event(owner.token);
    const declared = await s.api('PUT', `/v1/events/${slug}/roles`, { token: owner.token, body: { roles: [{ name: 'attendees', capacity: 2 }, { name: 'volunteers', capacity: 1 }] } });
    expect(declared.status).toBe(200);
    expect(declared.body.roles.map((r: { name: string }) => r.name)).toEqual(['attendees', 'volunteers']);
    expect((await s.api('PUT', `/v1/events/${slug}/roles`, { token: v1.token, body: { roles: [] } })).status).toBe(403);

    expect((await going(slug, v1, { role: 'volunteers', notes: 'can bring a ladder' })).body).toMatchObject({ status: 'confirmed', role: 'volunteers' });
    expect((await going(slug, v2, { role: 'volunteers' })).body).toMatchObject({ status: 'waitlisted', role: 'volunteers', waitlistPosition: 1 });
    // The default role is the first declared.
    expect((await going(slug, a1, { specialRequirements: 'wheelchair access' })).body).toMatchObject({ status: 'confirmed', role: 'attendees' });
    expect((await going(slug, a2)).body).toMatchObject({ status: 'confirmed', role: 'attendees' });
    expect((await going(slug, a3)).body).toMatchObject({ status: 'waitlisted', role: 'attendees', waitlistPosition: 1 });
    const unknown = await going(slug, a3, { role: 'speakers' });
    expect([unknown.status, unknown.body.error.code]).toEqual([422, 'unknown_role']);

    const event = (await s.api('GET', `/v1/events/${slug}`, { token: a1.token })).body;
    expect(event.roles).toEqual([
      { name: 'attendees', capacity: 2, attendeeCounts: { confirmed: 2, waitlisted: 1, maybe: 0 } },
      { name: 'volunteers', capacity: 1, attendeeCounts: { confirmed: 1, waitlisted: 1, maybe: 0 } },
    ]);
    const list = async (token: string) => (await s.api('GET', `/v1/events/${slug}/attendees`, { token })).body.items as Record<string, any>[];
    const asOrganizer = await list(owner.token);
    expect(asOrganizer.find((x) => x.user.slug === v1.slug)).toMatchObject({ role: 'volunteers', notes: 'can bring a ladder' });
    expect(asOrganizer.find((x) => x.user.slug === a1.slug)).toMatchObject({ role: 'attendees', specialRequirements: 'wheelchair access' });
    const asAttendee = await list(a2.token);
    expect(asAttendee.find((x) => x.user.slug === v1.slug)).not.toHaveProperty('notes');
    expect(asAttendee.find((x) => x.user.slug === v1.slug)).toMatchObject({ role: 'volunteers' });

    // A cancellation promotes within its own role only, in its own transaction.
    await s.api('DELETE', `/v1/events/${slug}/attendees/me`, { token: v1.token });
    expect(await statusOf(slug, v2)).toEqual({ status: 'confirmed', role: 'volunteers' });
    expect(await statusOf(slug, a3)).toEqual({ status: 'waitlisted', role: 'attendees' });
    // The event's capacity is the roles' now.
    expect((await s.api('PATCH', `/v1/events/${slug}`, { token: owner.token, body: { capacity: 10 } })).body.error.code).toBe('capacity_per_role');

    // Without roles, as before: one capacity, no role.
    const plain = await s.event(owner.token, { capacity: 1 });
    expect((await going(plain.slug, a1)).body).toMatchObject({ status: 'confirmed', role: null });
    expect((await s.api('GET', `/v1/events/${plain.slug}`, { token: a1.token })).body.roles).toEqual([]);
  });

  it('organizers move people between roles atomically and remove them; the freed seat promotes that role\'s waitlist', async () => {
    const owner = await s.user('Organizer');
    const [x, y, z, w] = await Promise.all(['X', 'Y', 'Z', 'W'].map((n) => s.user(n)));
    const { slug } = await s.event(owner.token);
    await s.api('PUT', `/v1/events/${slug}/roles`, { token: owner.token, body: { roles: [{ name: 'attendees', capacity: 1 }, { name: 'volunteers', capacity: 1 }] } });
    await going(slug, x); // attendees, confirmed
    await going(slug, y); // attendees, waitlisted
    await going(slug, z, { role: 'volunteers' }); // volunteers, confirmed

    // Into a full role: refused, nothing changed.
    const full = await s.api('PUT', `/v1/events/${slug}/attendees/${x.slug}`, { token: owner.token, body: { role: 'volunteers' } });
    expect([full.status, full.body.error.code]).toEqual([409, 'role_full']);
    expect(await statusOf(slug, x)).toEqual({ status: 'confirmed', role: 'attendees' });
    expect((await s.api('PUT', `/v1/events/${slug}/attendees/${x.slug}`, { token: y.token, body: { role: 'volunteers' } })).status).toBe(403);

    // The volunteer is removed; then X moves into the free volunteer seat and Y is promoted in attendees.
    expect((await s.api('DELETE', `/v1/events/${slug}/attendees/${z.slug}`, { token: owner.token })).body).toMatchObject({ status: 'cancelled' });
    const moved = await s.api('PUT', `/v1/events/${slug}/attendees/${x.slug}`, { token: owner.token, body: { role: 'volunteers' } });
    expect(moved.body).toMatchObject({ status: 'confirmed', role: 'volunteers', operations: [] });
    expect(await statusOf(slug, y)).toEqual({ status: 'confirmed', role: 'attendees' }); // in the move's own transaction

    // A role with people in it cannot go; a raised capacity promotes.
    await going(slug, w); // attendees full: waitlisted
    const inUse = await s.api('PUT', `/v1/events/${slug}/roles`, { token: owner.token, body: { roles: [{ name: 'attendees', capacity: 1 }] } });
    expect([inUse.status, inUse.body.error.code]).toEqual([409, 'role_in_use']);
    const raised = await s.api('PUT', `/v1/events/${slug}/roles`, { token: owner.token, body: { roles: [{ name: 'attendees', capacity: 2 }, { name: 'volunteers', capacity: 1 }] } });
    expect(raised.body.operations).toEqual([{ id: `waitlist:${slug}`, type: 'waitlist' }]);
    await eventually(async () => (await statusOf(slug, w))?.status === 'confirmed');
  });

  it('sign-ups racing for a role\'s last seats never over-fill it, and are promoted in arrival order', async () => {
    const owner = await s.user('Organizer');
    const { slug } = await s.event(owner.token);
    await s.api('PUT', `/v1/events/${slug}/roles`, { token: owner.token, body: { roles: [{ name: 'attendees', capacity: 50 }, { name: 'volunteers', capacity: 3 }] } });
    const crowd = await Promise.all(Array.from({ length: 30 }, (_, i) => s.user(`Crowd ${i}`)));
    const answers = await Promise.all(crowd.map((u) => going(slug, u, { role: 'volunteers' })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const confirmed = answers.filter((a) => a.body.status === 'confirmed');
    expect(confirmed).toHaveLength(3);
    const waiting = answers.filter((a) => a.body.status === 'waitlisted').map((a) => a.body.waitlistPosition).sort((p, q) => p - q);
    expect(waiting).toEqual(Array.from({ length: 27 }, (_, i) => i + 1));

    // Two confirmed volunteers leave: the first two in the volunteers' waitlist take their seats.
    const order: string[] = (await s.ds.query(
      `SELECT a.user_id FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1 AND a.status = 'waitlisted' ORDER BY a.waitlisted_at, a.id`, [slug]))
      .map((r: { user_id: string }) => r.user_id);
    const leaving = crowd.filter((_, i) => answers[i].body.status === 'confirmed').slice(0, 2);
    await Promise.all(leaving.map((u) => s.api('DELETE', `/v1/events/${slug}/attendees/me`, { token: u.token })));
    const rows: { user_id: string }[] = await s.ds.query(
      `SELECT a.user_id FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1 AND a.status = 'confirmed'`, [slug]);
    expect(rows).toHaveLength(3);
    expect(order.slice(0, 2).every((id) => rows.some((r) => r.user_id === id))).toBe(true);
    const [{ n }] = await s.ds.query(
      `SELECT count(*)::int AS n FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1 AND a.registration_role = 'volunteers' AND a.status = 'confirmed'`, [slug]);
    expect(n).toBe(3);
  });
  it('an RSVP from the network lands in the event\'s default role', async () => {
    const service = await s.token('ingest-service', 'service');
    const admin = await s.token(randomUUID(), 'admin');
    const [host, guest] = ['did:plc:rolehost' + randomUUID().slice(0, 8), 'did:plc:roleguest' + randomUUID().slice(0, 8)];
    const sourceId = `at://${host}/community.lexicon.calendar.event/3roles${randomUUID().slice(0, 6)}`;
    expect((await s.api('POST', '/v1/integration/events', { token: service, body: {
      sourceType: 'bluesky', sourceId, creator: { did: host, handle: 'host.test' }, name: 'From the network', startAt: '2027-09-01T18:00:00Z', endAt: '2027-09-01T20:00:00Z',
    } })).status).toBe(202);
    const [{ slug }] = await eventually(async () => { const r = await s.ds.query(`SELECT slug FROM events WHERE source_id = $1`, [sourceId]); return r.length ? r : null; });
    await s.api('PUT', `/v1/events/${slug}/roles`, { token: admin, body: { roles: [{ name: 'attendees', capacity: 10 }, { name: 'helpers', capacity: 2 }] } });
    expect((await s.api('POST', '/v1/integration/rsvps', { token: service, body: {
      sourceId: `at://${guest}/community.lexicon.calendar.rsvp/3rsvp${randomUUID().slice(0, 6)}`, eventSourceType: 'bluesky', eventSourceId: sourceId, userDid: guest, status: 'going',
    } })).status).toBe(202);
    const row = await eventually(async () => (await s.ds.query(
      `SELECT a.status, a.registration_role AS role FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1`, [slug]))[0]);
    expect(row).toEqual({ status: 'confirmed', role: 'attendees' });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';
import { rsvp, rsvpIfQuiet } from '../../src/domain/rsvp.ts';
import { publishesRsvps } from '../../src/follow-ups/rules.ts';
import { findViolations } from '../../src/db/invariants.ts';

let s: Stack;
beforeAll(async () => { s = await startStack(); await s.startWorker(); });
afterAll(async () => { await s?.close(); });

type User = Awaited<ReturnType<Stack['user']>>;

async function users(n: number, prefix: string): Promise<User[]> {
  const out: User[] = [];
  for (let i = 0; i < n; i++) out.push(await s.user(`${prefix} ${i}`));
  return out;
}

async function statusRows(slug: string) {
  return s.ds.query(
    `SELECT a.user_id, a.status, a.waitlisted_at FROM attendees a JOIN events e ON e.id = a.event_id
      WHERE e.slug = $1 ORDER BY a.waitlisted_at NULLS FIRST, a.id`, [slug]) as Promise<{ user_id: string; status: string }[]>;
}

const confirmedIds = async (slug: string) => (await statusRows(slug)).filter((r) => r.status === 'confirmed').map((r) => r.user_id);

describe('RSVPs with capacity (real Postgres, real dev server)', () => {
  it('200 concurrent going RSVPs for capacity 50: exactly 50 confirmed, 150 waitlisted in arrival order', async () => {
    const owner = await s.user('Owner');
    const { slug } = await s.event(owner.token, { capacity: 50 });
    const people = await users(200, 'Guest');

    const answers = await Promise.all(people.map(async (p) => {
      const res = await s.api('POST', `/v1/events/${slug}/attendees`, { token: p.token, body: { status: 'going' } });
      expect(res.status).toBe(200);
      return { userId: p.id, ...res.body as { status: string; waitlistPosition?: number } };
    }));

    const confirmed = answers.filter((a) => a.status === 'confirmed');
    const waitlisted = answers.filter((a) => a.status === 'waitlisted');
    expect(confirmed).toHaveLength(50);
    expect(waitlisted).toHaveLength(150);
    // Positions handed out are 1..150, each once, and match the stored waitlist order.
    expect(waitlisted.map((a) => a.waitlistPosition).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    const stored = (await statusRows(slug)).filter((r) => r.status === 'waitlisted').map((r) => r.user_id);
    const byPosition = [...waitlisted].sort((a, b) => a.waitlistPosition! - b.waitlistPosition!).map((a) => a.userId);
    expect(stored).toEqual(byPosition);

    const event = await s.api('GET', `/v1/events/${slug}`, { token: owner.token });
    expect(event.body.attendeeCounts).toEqual({ confirmed: 50, waitlisted: 150, maybe: 0 });
    const list = await s.api('GET', `/v1/events/${slug}/attendees?limit=500`, { token: owner.token });
    expect(list.body.items.filter((i: { status: string }) => i.status === 'waitlisted').map((i: { waitlistPosition: number }) => i.waitlistPosition))
      .toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
  });

  it('10 cancellations, half of them with no worker, each promote the next waitlisted person in their own transaction, in order, each once', async () => {
    const owner = await s.user('Owner');
    const { slug } = await s.event(owner.token, { capacity: 10 });
    const people = await users(30, 'Person');
    for (const p of people) await s.api('POST', `/v1/events/${slug}/attendees`, { token: p.token, body: { status: 'going' } });
    const firstTen = people.slice(0, 10);
    const nextTen = people.slice(10, 20).map((p) => p.id);

    // Five concurrent cancellations with the worker up, five with it down: each answer comes back
    // with its seat already taken by the next person, and no workflow to wait for.
    const cancel = (p: User) => s.api('DELETE', `/v1/events/${slug}/attendees/me`, { token: p.token });
    const before = await Promise.all(firstTen.slice(0, 5).map(cancel));
    expect(await confirmedIds(slug)).toHaveLength(10);
    await s.stopWorker();
    const after = await Promise.all(firstTen.slice(5).map(cancel));
    expect(await confirmedIds(slug)).toHaveLength(10);
    await s.startWorker();
    for (const a of [...before, ...after]) expect(a.body).toMatchObject({ status: 'cancelled', operations: [] });

    const rows = await statusRows(slug);
    expect(rows.filter((r) => r.status === 'confirmed').map((r) => r.user_id).sort()).toEqual([...nextTen].sort());
    expect(rows.filter((r) => r.status === 'waitlisted').map((r) => r.user_id)).toEqual(people.slice(20).map((p) => p.id));
    expect(rows.filter((r) => r.status === 'cancelled')).toHaveLength(10);
  });

  it('a raised capacity promotes through waitlist:<slug>, across a worker restart, each person once; a cancellation meanwhile promotes one person only', async () => {
    const owner = await s.user('Owner');
    const { slug } = await s.event(owner.token, { capacity: 2 });
    const people = await users(12, 'Raise');
    for (const p of people) await s.api('POST', `/v1/events/${slug}/attendees`, { token: p.token, body: { status: 'going' } });
    const ids = (ps: User[]) => ps.map((p) => p.id).sort();

    // The raise is committed with its follow-up while no worker runs: nobody is promoted yet ...
    await s.stopWorker();
    const raised = await s.api('PATCH', `/v1/events/${slug}`, { token: owner.token, body: { capacity: 10 } });
    expect(raised.body.operations).toEqual([{ id: `waitlist:${slug}`, type: 'waitlist' }]);
    expect(await confirmedIds(slug)).toHaveLength(2);
    // ... a cancellation gives its own seat to the first waiting person, and no more (its
    // transaction's work is bounded, whatever seats are free) ...
    await s.api('DELETE', `/v1/events/${slug}/attendees/me`, { token: people[0].token });
    expect((await confirmedIds(slug)).sort()).toEqual(ids([people[1], people[2]]));
    // ... and a new worker promotes the rest: the next eight, in order.
    await s.startWorker();
    await eventually(async () => (await confirmedIds(slug)).length === 10);
    expect((await confirmedIds(slug)).sort()).toEqual(ids(people.slice(1, 11)));
    const progress = await eventually(async () => {
      const op = await s.api('GET', `/v1/operations/waitlist:${slug}`, { token: owner.token });
      return op.body.progress?.promoted === 8 && op.body.progress;
    });
    expect(progress.promoted).toBe(8); // each promoted once, never over capacity
  });

  it('a confirmed person not going gives up a seat, and a publisher\'s RSVP has follow-ups: no quiet attempt is made for them, nothing is written', async () => {
    const owner = await s.user('Owner');
    const { slug } = await s.event(owner.token, { capacity: 1 });
    const [held, waiting, leaving, publisher] = await users(4, 'Seat');
    for (const p of [held, waiting, leaving]) expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: p.token, body: { status: 'going' } })).status).toBe(200);
    const quietly = (userId: string, intent: 'going' | 'interested' | 'notgoing') => rsvpIfQuiet(s.ds, slug, userId, intent, {}, { chatOn: false, hideDraft: true });
    for (const intent of ['notgoing', 'interested'] as const) {
      expect(await quietly(held.id, intent)).toMatchObject({ caller: { id: held.id, held: 'confirmed' }, result: null });
    }
    expect(await confirmedIds(slug)).toEqual([held.id]);
    // publishesRsvps in src/follow-ups/rules.ts, which the statement repeats in SQL.
    await s.ds.query(`UPDATE users SET bluesky_connected = true, bluesky_auto_publish = true WHERE id = $1`, [publisher.id]);
    const tried = await quietly(publisher.id, 'interested');
    expect(publishesRsvps(tried.caller!)).toBe(true);
    expect(tried.result).toBeNull();
    expect((await statusRows(slug)).map((r) => r.user_id)).not.toContain(publisher.id);
    // Anyone else's RSVP may be quiet: the attempt is made.
    expect((await quietly(leaving.id, 'notgoing')).result).toMatchObject({ status: 'cancelled', seatFreed: false });
    // Through the API, the seat given up goes to the next person waiting, in the cancellation's transaction.
    expect((await s.api('DELETE', `/v1/events/${slug}/attendees/me`, { token: held.token })).body).toMatchObject({ status: 'cancelled' });
    expect(await confirmedIds(slug)).toEqual([waiting.id]);
  });

  it('repeating an RSVP is a no-op; interested is maybe; notgoing cancels', async () => {
    const owner = await s.user('Owner');
    const { slug } = await s.event(owner.token, { capacity: 1 });
    const [a, b] = await users(2, 'P');
    expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: a.token, body: { status: 'going' } })).body.status).toBe('confirmed');
    expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: a.token, body: { status: 'going' } })).body.status).toBe('confirmed');
    expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: b.token, body: { status: 'going' } })).body)
      .toEqual({ status: 'waitlisted', role: null, waitlistPosition: 1, operations: [] });
    expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: b.token, body: { status: 'going' } })).body.waitlistPosition).toBe(1);
    expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: b.token, body: { status: 'interested' } })).body.status).toBe('maybe');
    expect((await s.api('GET', `/v1/events/${slug}`, { token: a.token })).body.attendeeCounts).toEqual({ confirmed: 1, waitlisted: 0, maybe: 1 });
    const bad = await s.api('POST', `/v1/events/${slug}/attendees`, { token: b.token, body: { status: 'maybe-later' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
  });

  it('raising the capacity promotes; lowering it never un-confirms anyone', async () => {
    const owner = await s.user('Owner');
    const { slug } = await s.event(owner.token, { capacity: 2 });
    const people = await users(5, 'C');
    for (const p of people) await s.api('POST', `/v1/events/${slug}/attendees`, { token: p.token, body: { status: 'going' } });

    const lowered = await s.api('PATCH', `/v1/events/${slug}`, { token: owner.token, body: { capacity: 1 } });
    expect(lowered.status).toBe(200);
    expect(lowered.body.attendeeCounts.confirmed).toBe(2);

    const raised = await s.api('PATCH', `/v1/events/${slug}`, { token: owner.token, body: { capacity: 4 } });
    expect(raised.body.operations).toEqual([{ id: `waitlist:${slug}`, type: 'waitlist' }]);
    await eventually(async () => (await s.api('GET', `/v1/events/${slug}`, { token: owner.token })).body.attendeeCounts.confirmed === 4);
    const rows = await statusRows(slug);
    expect(rows.filter((r) => r.status === 'confirmed').map((r) => r.user_id).sort()).toEqual(people.slice(0, 4).map((p) => p.id).sort());

    // Lowered below its confirmed count again (and left so for the suite's last invariant check):
    // the four stay, nobody new gets a seat, and that is no breach of the capacity.
    expect((await s.api('PATCH', `/v1/events/${slug}`, { token: owner.token, body: { capacity: 1 } })).body.attendeeCounts.confirmed).toBe(4);
    await s.api('DELETE', `/v1/events/${slug}/attendees/me`, { token: people[0].token });
    const late = await s.user('Late');
    expect((await s.api('POST', `/v1/events/${slug}/attendees`, { token: late.token, body: { status: 'going' } })).body.status).toBe('waitlisted');
    expect((await findViolations(s.ds))['more confirmed attendees than capacity'] ?? []).not.toContain(slug);

    const stranger = await s.user('Stranger');
    const denied = await s.api('PATCH', `/v1/events/${slug}`, { token: stranger.token, body: { capacity: 100 } });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('forbidden');
  });

  it('a raised capacity with nobody waiting sets nothing in motion; one raised while an RSVP that waitlists holds the event still wakes the waitlist', async () => {
    const owner = await s.user('Raiser');
    const [first, second] = await users(2, 'Raise');
    const { slug } = await s.event(owner.token, { capacity: 1 });
    await s.api('POST', `/v1/events/${slug}/attendees`, { token: first.token, body: { status: 'going' } });
    // Nobody waits: no waitlist run (a workflow start per raise, for nothing).
    expect((await s.api('PATCH', `/v1/events/${slug}`, { token: owner.token, body: { capacity: 2 } })).body.operations).toEqual([]);
    expect((await s.api('PATCH', `/v1/events/${slug}`, { token: owner.token, body: { capacity: 1 } })).body.operations).toEqual([]);

    // The second person's RSVP takes the event's lock and waitlists them; the raise waits for that
    // lock, and must see them waiting once it has it (its UPDATE's own snapshot, taken before the
    // wait, would not).
    let raise!: Promise<{ body: { operations: unknown[] } }>;
    const result = await rsvp(s.ds, slug, second.id, 'going', async () => {
      raise = s.api('PATCH', `/v1/events/${slug}`, { token: owner.token, body: { capacity: 2 } });
      await eventually(async () => (await s.ds.query(
        `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE events e SET capacity%'`)).length > 0);
    });
    expect(result.status).toBe('waitlisted');
    expect((await raise).body.operations).toEqual([{ id: `waitlist:${slug}`, type: 'waitlist' }]);
    await eventually(async () => (await confirmedIds(slug)).includes(second.id));
  });

  it('a capacity set back up while an edit that lowered it held the event still wakes the waitlist (raised from the capacity it waited for, not the one it first read)', async () => {
    const owner = await s.user('Editor');
    const [first, second, third] = await users(3, 'Edited');
    const { slug } = await s.event(owner.token, { capacity: 2 });
    for (const p of [first, second, third]) await s.api('POST', `/v1/events/${slug}/attendees`, { token: p.token, body: { status: 'going' } });
    expect(await confirmedIds(slug)).toEqual([first.id, second.id]);

    // Another edit lowers the capacity to 1 while someone leaves (one seat, taken: nobody is
    // promoted); the organizer sets it back to 2, a seat free for the third person, and waits for that edit's lock.
    const lowering = s.ds.createQueryRunner();
    await lowering.connect();
    let raise!: Promise<{ body: { operations: unknown[] } }>;
    try {
      await lowering.startTransaction();
      await lowering.query(`UPDATE events SET capacity = 1 WHERE slug = $1`, [slug]);
      await lowering.query(`SELECT meetflow_rsvp($1, $2, 'notgoing', NULL, NULL, false, NULL, false, false, false)`, [slug, first.id]);
      raise = s.api('PATCH', `/v1/events/${slug}`, { token: owner.token, body: { capacity: 2 } });
      await eventually(async () => (await s.ds.query(
        `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE events e SET capacity%'`)).length > 0);
      await lowering.commitTransaction();
    } finally {
      await lowering.release();
    }
    expect((await raise).body.operations).toEqual([{ id: `waitlist:${slug}`, type: 'waitlist' }]);
    await eventually(async () => (await confirmedIds(slug)).includes(third.id));
    expect(await confirmedIds(slug)).toEqual([second.id, third.id]);
  });

  it('a registration that comes while an RSVP looks for it (a claim\'s merge moves one without the event\'s lock) is updated: one row, tallies true', async () => {
    const owner = await s.user('Owner');
    const { slug } = await s.event(owner.token, { capacity: 5 });
    const [shadow, person] = await users(2, 'Merged');
    await s.api('POST', `/v1/events/${slug}/attendees`, { token: shadow.token, body: { status: 'interested' } });
    const merge = s.ds.createQueryRunner();
    await merge.connect();
    try {
      await merge.startTransaction();
      await merge.query(`UPDATE attendees SET user_id = $2 WHERE user_id = $1`, [shadow.id, person.id]);
      const [{ xid }] = await merge.query(`SELECT pg_current_xact_id()::text AS xid`);
      // Looked for before the merge commits (not there yet): the insert waits on the merge's transaction.
      const deciding = s.ds.query(`SELECT meetflow_rsvp($1, $2, 'going', NULL, NULL, false, NULL, false, false, false) AS r`, [slug, person.id]);
      await eventually(async () => (await s.ds.query(
        `SELECT 1 FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted AND transactionid::text = $1`, [xid])).length > 0);
      await merge.commitTransaction();
      expect((await deciding)[0].r).toMatchObject({ status: 'confirmed', changed: true });
    } finally {
      await merge.release();
    }
    expect((await statusRows(slug)).map((r) => [r.user_id, r.status])).toEqual([[person.id, 'confirmed']]);
    expect((await s.api('GET', `/v1/events/${slug}`, { token: owner.token })).body.attendeeCounts).toEqual({ confirmed: 1, waitlisted: 0, maybe: 0 });
    expect((await findViolations(s.ds))['attendee tally that disagrees with the rows (migration 1764000000016 keeps them equal)']).toBeUndefined();
  });

  it('a tombstoned (deleting) event refuses RSVPs with a clear error and nothing written', async () => {
    const owner = await s.user('Owner');
    const { slug } = await s.event(owner.token, { capacity: 5 });
    await s.ds.query(`UPDATE events SET status = 'deleting' WHERE slug = $1`, [slug]);
    const res = await s.api('POST', `/v1/events/${slug}/attendees`, { token: owner.token, body: { status: 'going' } });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('event_deleting');
    expect(await statusRows(slug)).toEqual([]);
    expect((await s.api('GET', `/v1/events/${slug}`, { token: owner.token })).status).toBe(404);
  });
});

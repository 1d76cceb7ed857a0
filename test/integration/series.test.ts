import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { occurrences } from '../../src/domain/recurrence.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';

const DAY = 86_400_000;
let s: Stack;
beforeAll(async () => { s = await startStack({ SERIES_MAX_OCCURRENCES: '40' }); await s.startWorker(); });
afterAll(async () => { await s?.close(); });

/** Tomorrow (UTC) at `hour`:00Z, plus `days`. */
function dayAt(days: number, hour = 18): Date {
  const d = new Date(Date.now() + (days + 1) * DAY);
  d.setUTCHours(hour, 0, 0, 0);
  return d;
}

async function rows(seriesSlug: string) {
  return s.ds.query(
    `SELECT slug, original_start, start_at, status, name,
            (SELECT count(*)::int FROM attendees a WHERE a.event_id = e.id) AS attendees
       FROM events e WHERE series_slug = $1 ORDER BY original_start`, [seriesSlug]) as Promise<
    { slug: string; original_start: Date; start_at: Date; status: string; name: string; attendees: number }[]>;
}

async function createSeries(token: string, body: Record<string, unknown>) {
  const res = await s.api('POST', '/v1/series', { token, body: { timeZone: 'UTC', ...body } });
  if (res.status !== 201) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Waits until `series:<slug>` has materialized and is waiting (or done), later than `seen` (an
 * earlier answer): a finished series' workflow is started anew by the next change.
 */
async function materialized(slug: string, token: string, seen?: { startedAt: string; runs: number }) {
  return eventually(async () => {
    const op = await s.api('GET', `/v1/operations/series:${slug}`, { token });
    const p = op.body.status === 'completed' ? op.body.result : op.body.progress;
    const newer = !seen || op.body.startedAt !== seen.startedAt || p?.runs > seen.runs;
    return p && p.runs >= 1 && p.step !== 'materializing' && newer && { ...op.body, runs: p.runs as number };
  });
}

describe('series materialization on the real dev server', () => {
  it('creates the series, its template (occurrence zero) and the occurrences up to the configured count', async () => {
    const owner = await s.user('Series Owner');
    const start = dayAt(0);
    const series = await createSeries(owner.token, {
      name: 'Daily Standup', rrule: 'FREQ=DAILY', startAt: start.toISOString(), endAt: new Date(start.getTime() + 30 * 60_000).toISOString(),
    });
    expect(series.operations).toEqual([{ id: `series:${series.slug}`, type: 'series' }]);
    await materialized(series.slug, owner.token);

    const events = await rows(series.slug);
    const expected = occurrences({ rrule: 'FREQ=DAILY', dtstart: start, timeZone: 'UTC' }, { from: new Date(), to: new Date(Date.now() + 90 * DAY), limit: 40 });
    expect(events.map((e) => e.original_start.toISOString())).toEqual(expected.map((d) => d.toISOString()));
    expect(events).toHaveLength(40); // SERIES_MAX_OCCURRENCES
    expect(events[0].slug).toBe(series.templateEventSlug);
    expect(events.every((e) => e.start_at.getUTCHours() === 18 && e.name === 'Daily Standup' && e.status === 'published')).toBe(true);
    expect(events.every((e, i) => i === 0 || e.original_start.getTime() - events[i - 1].original_start.getTime() === DAY)).toBe(true);

    const got = await s.api('GET', `/v1/series/${series.slug}`, { token: owner.token });
    expect(got.body).toMatchObject({ slug: series.slug, rrule: 'FREQ=DAILY', templateEventSlug: series.templateEventSlug });
    expect(new Date(got.body.materializedUntil).getTime()).toBeGreaterThan(Date.now() + 89 * DAY);
    const ev = await s.api('GET', `/v1/events/${events[5].slug}`, { token: owner.token });
    expect(ev.body.seriesSlug).toBe(series.slug);
  });

  it('a finite rule materializes completely and its workflow ends', async () => {
    const owner = await s.user();
    const start = dayAt(2, 9);
    const series = await createSeries(owner.token, {
      name: 'Five Fridays', rrule: 'FREQ=WEEKLY;COUNT=5', startAt: start.toISOString(), endAt: new Date(start.getTime() + 3_600_000).toISOString(),
    });
    // Wait for the end itself: a follow-up delivered twice (its first answer lost in a slow moment)
    // adds a round, or a run, that changes nothing, and the workflow still ends.
    const op = await s.finished(`series:${series.slug}`, owner.token, { timeoutMs: 60_000 });
    expect(op.status).toBe('completed');
    expect(op.result).toMatchObject({ state: 'ended' });
    expect(await rows(series.slug)).toHaveLength(5);
  });

  it('a rule change re-creates unmodified future occurrences; exceptions are kept; ones with attendees are cancelled, not deleted', async () => {
    const owner = await s.user('Planner');
    const guest = await s.user('Guest');
    const start = dayAt(0, 19);
    const series = await createSeries(owner.token, {
      name: 'Ten Evenings', rrule: 'FREQ=DAILY;COUNT=10', startAt: start.toISOString(), endAt: new Date(start.getTime() + 7_200_000).toISOString(),
      capacity: 20,
    });
    const first = await materialized(series.slug, owner.token);
    const before = await rows(series.slug);
    expect(before).toHaveLength(10);
    const day = (n: number) => before[n - 1]; // day 1 is the template

    // Day 2 modified, day 5 cancelled (exceptions), someone going on day 4.
    const modified = await s.api('PATCH', `/v1/series/${series.slug}/occurrences/${day(2).original_start.toISOString()}`, { token: owner.token, body: { name: 'Special Evening' } });
    expect(modified.body).toMatchObject({ kind: 'modified', eventSlug: day(2).slug });
    const cancelled = await s.api('PATCH', `/v1/series/${series.slug}/occurrences/${day(5).original_start.toISOString()}`, { token: owner.token, body: { status: 'cancelled' } });
    expect(cancelled.body.kind).toBe('cancelled');
    await s.api('POST', `/v1/events/${day(4).slug}/attendees`, { token: guest.token, body: { status: 'going' } });

    // The change arrives while no worker runs; a new worker picks it up.
    await s.stopWorker();
    const patched = await s.api('PATCH', `/v1/series/${series.slug}`, { token: owner.token, body: { rrule: 'FREQ=DAILY;INTERVAL=2;COUNT=5', name: 'Every Other Evening' } });
    expect(patched.status).toBe(200);
    await s.startWorker();
    await materialized(series.slug, owner.token, first);

    const after = new Map((await rows(series.slug)).map((e) => [e.slug, e]));
    // Days 1, 3, 5, 7, 9 match the new rule.
    expect(after.get(day(1).slug)).toMatchObject({ name: 'Every Other Evening', status: 'published' }); // the template
    for (const n of [3, 7, 9]) expect(after.get(day(n).slug)).toMatchObject({ name: 'Every Other Evening', status: 'published' });
    expect(after.get(day(5).slug)).toMatchObject({ status: 'cancelled' }); // cancelled exception stays cancelled
    expect(after.get(day(2).slug)).toMatchObject({ name: 'Special Evening', status: 'published' }); // modified exception kept
    expect(after.get(day(4).slug)).toMatchObject({ status: 'cancelled', attendees: 1 }); // people signed up: cancelled
    for (const n of [6, 8, 10]) expect(after.has(day(n).slug)).toBe(false); // nobody signed up: removed
    expect([...after.values()].every((e) => e.slug.startsWith(series.slug))).toBe(true);

    const list = await s.api('GET', `/v1/series/${series.slug}/occurrences?from=${new Date(start.getTime() - 1000).toISOString()}`, { token: owner.token });
    expect(list.body.items.map((o: { eventSlug: string; template: boolean; exception: string | null; status: string }) =>
      [o.eventSlug, o.template, o.exception, o.status])).toEqual([
      [day(1).slug, true, null, 'published'],
      [day(2).slug, false, 'modified', 'published'],
      [day(3).slug, false, null, 'published'],
      [day(4).slug, false, null, 'cancelled'],
      [day(5).slug, false, 'cancelled', 'cancelled'],
      [day(7).slug, false, null, 'published'],
      [day(9).slug, false, null, 'published'],
    ]);
    const guestView = await s.api('GET', `/v1/events/${day(4).slug}`, { token: guest.token });
    expect(guestView.body).toMatchObject({ status: 'cancelled', seriesSlug: series.slug, attendeeCounts: { confirmed: 1 } });
  });

  it('a capacity raised on the series, or on one occurrence, promotes the next people on those events\' waitlists', async () => {
    const owner = await s.user('Class Owner');
    const people = await Promise.all(['P1', 'P2', 'P3', 'P4', 'P5', 'P6'].map((n) => s.user(n)));
    const start = dayAt(0);
    const series = await createSeries(owner.token, {
      name: 'Small Class', rrule: 'FREQ=WEEKLY;COUNT=3', capacity: 1,
      startAt: start.toISOString(), endAt: new Date(start.getTime() + 60 * 60_000).toISOString(),
    });
    const seen = await materialized(series.slug, owner.token);
    const events = await rows(series.slug); // the template, then two occurrences
    const going = async (slug: string, token: string) => (await s.api('POST', `/v1/events/${slug}/attendees`, { token, body: { status: 'going' } })).body.status;
    for (const [i, e] of events.entries()) {
      expect([await going(e.slug, people[2 * i].token), await going(e.slug, people[2 * i + 1].token)]).toEqual(['confirmed', 'waitlisted']);
    }
    const status = async (slug: string, userId: string) => (await s.ds.query(
      `SELECT a.status FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1 AND a.user_id = $2`, [slug, userId]))[0].status;

    // One occurrence's own capacity (an exception), then the series': each waiting person gets the seat.
    const raised = await s.api('PATCH', `/v1/series/${series.slug}/occurrences/${events[2].original_start.toISOString()}`, { token: owner.token, body: { capacity: 2 } });
    expect(raised.body.operations).toContainEqual({ id: `waitlist:${events[2].slug}`, type: 'waitlist' });
    await eventually(async () => (await status(events[2].slug, people[5].id)) === 'confirmed', { timeoutMs: 30_000 });
    expect((await s.api('PATCH', `/v1/series/${series.slug}`, { token: owner.token, body: { capacity: 2 } })).status).toBe(200);
    await materialized(series.slug, owner.token, seen);
    for (const [i, e] of events.slice(0, 2).entries()) {
      await eventually(async () => (await status(e.slug, people[2 * i + 1].id)) === 'confirmed', { timeoutMs: 30_000 });
    }
  });

  it('occurrences take the template\'s roles: new ones, unmodified ones when they change (promoting who waits), never an exception\'s or one whose people hold a dropped role', async () => {
    const owner = await s.user('Roles Owner');
    const people = await Promise.all(['R1', 'R2', 'R3'].map((n) => s.user(n)));
    const start = dayAt(0);
    const series = await createSeries(owner.token, {
      name: 'Volunteer Night', rrule: 'FREQ=WEEKLY;COUNT=3', startAt: start.toISOString(), endAt: new Date(start.getTime() + 60 * 60_000).toISOString(),
    });
    let seen = await materialized(series.slug, owner.token);
    const [template, first, second] = (await rows(series.slug)).map((e) => e.slug);
    const roles = async (slug: string) => (await s.api('GET', `/v1/events/${slug}`, { token: owner.token })).body.roles
      .map((r: { name: string; capacity: number | null }) => [r.name, r.capacity]);
    const declare = async (slug: string, declared: { name: string; capacity: number | null }[]) => {
      const res = await s.api('PUT', `/v1/events/${slug}/roles`, { token: owner.token, body: { roles: declared } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body;
    };
    const going = async (slug: string, token: string, role: string) =>
      (await s.api('POST', `/v1/events/${slug}/attendees`, { token, body: { status: 'going', role } })).body.status;
    const status = async (slug: string, userId: string) => (await s.ds.query(
      `SELECT a.status FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = $1 AND a.user_id = $2`, [slug, userId]))[0].status;

    // The template's roles reach the unmodified occurrences.
    expect((await declare(template, [{ name: 'volunteers', capacity: 2 }, { name: 'attendees', capacity: 1 }])).operations)
      .toContainEqual({ id: `series:${series.slug}`, type: 'series' });
    seen = await materialized(series.slug, owner.token, seen);
    for (const slug of [first, second]) expect(await roles(slug)).toEqual([['volunteers', 2], ['attendees', 1]]);

    // Someone waits on the first occurrence; the second is made an exception with roles of its own.
    expect([await going(first, people[0].token, 'attendees'), await going(first, people[1].token, 'attendees')]).toEqual(['confirmed', 'waitlisted']);
    await declare(second, [{ name: 'crew', capacity: 5 }]);
    // A larger role on the template: the first occurrence follows and promotes; the exception keeps its own.
    await declare(template, [{ name: 'volunteers', capacity: 2 }, { name: 'attendees', capacity: 2 }]);
    seen = await materialized(series.slug, owner.token, seen);
    expect(await roles(first)).toEqual([['volunteers', 2], ['attendees', 2]]);
    await eventually(async () => (await status(first, people[1].id)) === 'confirmed', { timeoutMs: 30_000 });
    expect(await roles(second)).toEqual([['crew', 5]]);

    // A new occurrence (the rule now runs longer) is made with the template's roles.
    expect((await s.api('PATCH', `/v1/series/${series.slug}`, { token: owner.token, body: { rrule: 'FREQ=WEEKLY;COUNT=4' } })).status).toBe(200);
    seen = await materialized(series.slug, owner.token, seen);
    const fourth = (await rows(series.slug))[3].slug;
    expect(await roles(fourth)).toEqual([['volunteers', 2], ['attendees', 2]]);

    // The template drops its roles while someone on the first occurrence holds one: that one keeps
    // its roles (no capacity of its own, an exception from now on), the new one follows.
    expect(await going(first, people[2].token, 'volunteers')).toBe('confirmed');
    await declare(template, []);
    seen = await materialized(series.slug, owner.token, seen);
    expect(await roles(first)).toEqual([['volunteers', 2], ['attendees', 2]]);
    expect(await roles(fourth)).toEqual([]);
    expect((await s.ds.query(`SELECT kind FROM series_exceptions x JOIN events e ON e.id = x.event_id WHERE e.slug = $1`, [first]))[0]?.kind).toBe('modified');
    // So the template's next change passes it by: its seats stay its roles'.
    expect((await s.api('PATCH', `/v1/series/${series.slug}`, { token: owner.token, body: { name: 'Volunteer Evening', capacity: 5 } })).status).toBe(200);
    await materialized(series.slug, owner.token, seen);
    const now = Object.fromEntries((await s.ds.query(`SELECT slug, name, capacity FROM events WHERE series_slug = $1`, [series.slug]))
      .map((e: { slug: string; name: string; capacity: number | null }) => [e.slug, [e.name, e.capacity]]));
    expect([now[first], now[fourth]]).toEqual([['Volunteer Night', null], ['Volunteer Evening', 5]]);
  });

  it('lists occurrences beyond the horizon, and an exception there materializes that one occurrence', async () => {
    const owner = await s.user();
    const start = dayAt(0, 17);
    const series = await createSeries(owner.token, {
      name: 'Weekly Forever', rrule: 'FREQ=WEEKLY', startAt: start.toISOString(), endAt: new Date(start.getTime() + 3_600_000).toISOString(),
    });
    await materialized(series.slug, owner.token);
    const from = new Date(start.getTime() + 52 * 7 * DAY - 1000);
    const to = new Date(from.getTime() + 4 * 7 * DAY);
    const far = await s.api('GET', `/v1/series/${series.slug}/occurrences?from=${from.toISOString()}&to=${to.toISOString()}`, { token: owner.token });
    expect(far.body.items).toHaveLength(4);
    expect(far.body.items.every((o: { eventSlug: string | null }) => o.eventSlug === null)).toBe(true);

    const target = far.body.items[1].originalStart;
    const ex = await s.api('PATCH', `/v1/series/${series.slug}/occurrences/${target}`, { token: owner.token, body: { name: 'Anniversary', location: 'Park' } });
    expect(ex.body.eventSlug).toMatch(new RegExp(`^${series.slug}-`));
    const ev = await s.api('GET', `/v1/events/${ex.body.eventSlug}`, { token: owner.token });
    expect(ev.body).toMatchObject({ name: 'Anniversary', location: 'Park', seriesSlug: series.slug });
    const again = await s.api('GET', `/v1/series/${series.slug}/occurrences?from=${from.toISOString()}&to=${to.toISOString()}`, { token: owner.token });
    expect(again.body.items[1]).toMatchObject({ eventSlug: ex.body.eventSlug, exception: 'modified' });

    // Paged with a cursor (the same window), every occurrence comes once.
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { originalStart: string }[]; nextCursor: string | null } = (await s.api('GET',
        `/v1/series/${series.slug}/occurrences?from=${from.toISOString()}&to=${to.toISOString()}&limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token: owner.token })).body;
      paged.push(...page.items.map((o) => o.originalStart));
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged).toEqual(again.body.items.map((o: { originalStart: string }) => o.originalStart));

    // Editing an occurrence through the events API also makes it an exception.
    const rowsNow = await rows(series.slug);
    const edited = await s.api('PATCH', `/v1/events/${rowsNow[2].slug}`, { token: owner.token, body: { description: 'bring snacks' } });
    expect(edited.status).toBe(200);
    const [x] = await s.ds.query(`SELECT kind, overrides FROM series_exceptions WHERE series_slug = $1 AND original_start = $2`, [series.slug, rowsNow[2].original_start]);
    expect(x).toEqual({ kind: 'modified', overrides: { description: 'bring snacks' } });
  });

  it('the series link and template survive the chat workflow on an occurrence', async () => {
    const owner = await s.user('Chatty');
    const guest = await s.user('Guest');
    const start = dayAt(0, 20);
    const series = await createSeries(owner.token, {
      name: 'Chat Series', rrule: 'FREQ=WEEKLY;COUNT=4', startAt: start.toISOString(), endAt: new Date(start.getTime() + 3_600_000).toISOString(), chatEnabled: true,
    });
    await materialized(series.slug, owner.token);
    const [, second] = await rows(series.slug);
    const rsvp = await s.api('POST', `/v1/events/${second.slug}/attendees`, { token: guest.token, body: { status: 'going' } });
    expect(rsvp.body.operations).toEqual([{ id: `chat-room:${second.slug}`, type: 'chat-room' }]);
    await eventually(async () => {
      const [room] = await s.ds.query(`SELECT room_id FROM chat_rooms c JOIN events e ON e.id = c.event_id WHERE e.slug = $1`, [second.slug]);
      return room?.room_id;
    });
    const after = await rows(series.slug);
    expect(after).toHaveLength(4);
    const [link] = await s.ds.query(`SELECT t.slug FROM event_series s JOIN events t ON t.id = s.template_event_id WHERE s.slug = $1`, [series.slug]);
    expect(link.slug).toBe(series.templateEventSlug);
  });

  it('rejects bad rules and times with clear errors and writes nothing', async () => {
    const owner = await s.user();
    const [{ n: before }] = await s.ds.query(`SELECT count(*)::int AS n FROM event_series`);
    const start = dayAt(1).toISOString();
    const end = dayAt(1, 19).toISOString();
    for (const [rrule, pattern] of [['FREQ=HOURLY', /FREQ must be/], ['FREQ=DAILY;BYHOUR=9', /BYHOUR/], ['nonsense', /invalid rrule/]] as const) {
      const res = await s.api('POST', '/v1/series', { token: owner.token, body: { name: 'x', rrule, startAt: start, endAt: end, timeZone: 'UTC' } });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(JSON.stringify(res.body.error)).toMatch(pattern); // the message, or the issue of the documented pattern
    }
    const backwards = await s.api('POST', '/v1/series', { token: owner.token, body: { name: 'x', rrule: 'FREQ=DAILY', startAt: end, endAt: start, timeZone: 'UTC' } });
    expect(backwards.status).toBe(400);
    expect((await s.ds.query(`SELECT count(*)::int AS n FROM event_series`))[0].n).toBe(before);

    const series = await createSeries(owner.token, { name: 'Tuesdays', rrule: 'FREQ=WEEKLY', startAt: start, endAt: end });
    const notOne = await s.api('PATCH', `/v1/series/${series.slug}/occurrences/${new Date(Date.parse(start) + DAY).toISOString()}`, { token: owner.token, body: { name: 'x' } });
    expect(notOne.status).toBe(404);
    const stranger = await s.user();
    expect((await s.api('PATCH', `/v1/series/${series.slug}`, { token: stranger.token, body: { name: 'mine' } })).status).toBe(403);
  });
});

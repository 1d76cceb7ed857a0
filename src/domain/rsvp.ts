import type { DataSource, EntityManager } from 'typeorm';
import type { AttendeeStatus } from '../db/entities/attendee.ts';
import { DomainError, notFound } from './errors.ts';

/** What the caller says (api.md / AT Protocol), mapped to the attendee status it becomes. */
export type RsvpIntent = 'going' | 'interested' | 'notgoing';

export interface RsvpResult {
  status: AttendeeStatus;
  /** The registration's role, on an event that declares roles. */
  role: string | null;
  waitlistPosition?: number;
  /** A confirmed seat was given up: the waitlist must be promoted. */
  seatFreed: boolean;
  changed: boolean;
  /** The event has a chat room whose membership follows confirmations. */
  chatEnabled: boolean;
}

/** What a registration may say besides its status (an event with roles: which one; notes for the organizers). */
export interface Registration { role?: string; notes?: string | null; specialRequirements?: string | null }

interface Role { name: string; capacity: number | null }
/** The locked event row, with the roles it declares (in order), read in the same statement. */
interface LockedEvent { id: string; capacity: number | null; status: string; chat_enabled: boolean; roles: Role[] }
/** Where seats are counted: a role, or (name null) the whole event. */
interface Bucket { name: string | null; capacity: number | null }

/** Locks the event row; every change of confirmed seats for an event goes through this lock. */
async function lockEvent(m: EntityManager, slug: string): Promise<LockedEvent> {
  const [event] = await m.query(
    `SELECT id, capacity, status, chat_enabled,
            (SELECT coalesce(json_agg(json_build_object('name', r.name, 'capacity', r.capacity) ORDER BY r.position), '[]')
               FROM event_roles r WHERE r.event_id = events.id) AS roles
       FROM events WHERE slug = $1 FOR UPDATE`, [slug]);
  if (!event) throw notFound('event', slug);
  if (event.status === 'deleting') {
    throw new DomainError('event_deleting', `event ${slug} is being deleted and takes no RSVPs`);
  }
  return event;
}

export const eventRoles = (m: EntityManager | DataSource, eventId: string): Promise<Role[]> =>
  m.query(`SELECT name, capacity FROM event_roles WHERE event_id = $1 ORDER BY position`, [eventId]);

/**
 * The seat bucket a registration goes into: its role (the asked one, else the one it has, else
 * the first declared), with that role's capacity; on an event without roles, the event itself.
 */
function bucketFor(event: LockedEvent, eventSlug: string, asked: string | undefined, current: string | null): Bucket {
  const { roles } = event;
  if (!roles.length) {
    if (asked) throw new DomainError('unknown_role', `event ${eventSlug} declares no roles`, { role: asked });
    return { name: null, capacity: event.capacity };
  }
  const wanted = asked ?? current ?? roles[0].name;
  const role = roles.find((r) => r.name === wanted);
  if (!role) throw new DomainError('unknown_role', `event ${eventSlug} has no role ${wanted}`, { role: wanted, roles: roles.map((r) => r.name) });
  return role;
}

/** Is there a free seat in the bucket for this person (people already waiting there keep their place)? */
async function seatFree(m: EntityManager, eventId: string, bucket: Bucket, userId: string): Promise<boolean> {
  if (bucket.capacity === null) return true;
  const [taken] = await m.query(
    `SELECT count(*)::int AS n FROM attendees WHERE event_id = $1 AND registration_role IS NOT DISTINCT FROM $2
        AND status IN ('confirmed', 'waitlisted') AND user_id <> $3`, [eventId, bucket.name, userId]);
  return taken.n < bucket.capacity;
}

async function waitlistPosition(m: EntityManager, eventId: string, userId: string): Promise<number> {
  const [row] = await m.query(
    `SELECT count(*)::int AS ahead FROM attendees w, attendees me
      WHERE me.event_id = $1 AND me.user_id = $2 AND w.event_id = $1 AND w.status = 'waitlisted'
        AND w.registration_role IS NOT DISTINCT FROM me.registration_role
        AND (w.waitlisted_at, w.id) < (me.waitlisted_at, me.id)`, [eventId, userId]);
  return row.ahead + 1;
}

/**
 * Records one person's RSVP atomically. `going` confirms only while confirmed + waitlisted is
 * below capacity (people already waiting keep their place), otherwise waitlists; repeating an
 * RSVP changes nothing. On an event with roles, capacity and waitlist are the role's; a `going`
 * for another role moves the registration (to the back of that role's waitlist if it is full).
 * Arrival order is the order in which requests take the event lock, and `clock_timestamp()` (not
 * the transaction's start time) records it.
 */
export async function rsvp(
  ds: DataSource, eventSlug: string, userId: string, intent: RsvpIntent,
  /** Runs inside the transaction, before it commits: what the change sets in motion is recorded with it. */
  andThen?: (m: EntityManager, result: RsvpResult) => Promise<void>,
  registration: Registration = {},
): Promise<RsvpResult> {
  return ds.transaction(async (m) => {
    const event = await lockEvent(m, eventSlug);
    if (intent !== 'notgoing' && event.status !== 'published') {
      // A draft or cancelled event takes no sign-ups; giving one up is always possible.
      throw new DomainError('event_not_open', `event ${eventSlug} is ${event.status} and takes no RSVPs`, { status: event.status });
    }
    const [existing] = await m.query(
      `SELECT status, registration_role, notes, special_requirements FROM attendees WHERE event_id = $1 AND user_id = $2`, [event.id, userId]);
    const previous: AttendeeStatus | undefined = existing?.status;
    const bucket = bucketFor(event, eventSlug, registration.role, existing?.registration_role ?? null);
    const moved = existing !== undefined && bucket.name !== existing.registration_role;

    let next: AttendeeStatus;
    if (intent === 'interested') next = 'maybe';
    else if (intent === 'notgoing') next = 'cancelled';
    else if (!moved && (previous === 'confirmed' || previous === 'waitlisted')) next = previous;
    else next = (await seatFree(m, event.id, bucket, userId)) ? 'confirmed' : 'waitlisted';

    const changed = next !== previous || moved;
    const notes = registration.notes !== undefined ? registration.notes : existing?.notes ?? null;
    const special = registration.specialRequirements !== undefined ? registration.specialRequirements : existing?.special_requirements ?? null;
    if (changed || notes !== (existing?.notes ?? null) || special !== (existing?.special_requirements ?? null)) {
      await m.query(
        `INSERT INTO attendees (event_id, user_id, status, waitlisted_at, registration_role, notes, special_requirements)
         VALUES ($1, $2, $3, CASE WHEN $3 = 'waitlisted' THEN clock_timestamp() END, $4, $5, $6)
         ON CONFLICT (event_id, user_id) DO UPDATE
           SET status = EXCLUDED.status, registration_role = EXCLUDED.registration_role, notes = EXCLUDED.notes,
               special_requirements = EXCLUDED.special_requirements, updated_at = now(),
               waitlisted_at = CASE WHEN $7 THEN EXCLUDED.waitlisted_at ELSE attendees.waitlisted_at END`,
        [event.id, userId, next, bucket.name, notes, special, changed]);
    }
    const result: RsvpResult = {
      status: next, role: bucket.name, changed, chatEnabled: event.chat_enabled,
      seatFreed: previous === 'confirmed' && (next !== 'confirmed' || moved),
    };
    if (next === 'waitlisted') result.waitlistPosition = await waitlistPosition(m, event.id, userId);
    await andThen?.(m, result);
    return result;
  });
}

/**
 * An organizer moves a registration to another role, atomically under the event lock: a
 * confirmed person moves only into a free seat (409 `role_full`: nobody is pushed back onto a
 * waitlist by someone else), a waiting one joins the back of the new role's waitlist or takes its
 * free seat. The seat given up in the old role is promoted from that role's waitlist.
 */
export async function moveToRole(
  ds: DataSource, eventSlug: string, userId: string, role: string,
  andThen?: (m: EntityManager, result: RsvpResult) => Promise<void>,
): Promise<RsvpResult> {
  return ds.transaction(async (m) => {
    const event = await lockEvent(m, eventSlug);
    const [existing] = await m.query(`SELECT status, registration_role FROM attendees WHERE event_id = $1 AND user_id = $2`, [event.id, userId]);
    if (!existing || existing.status === 'cancelled') throw new DomainError('not_found', `this person is not registered for ${eventSlug}`);
    const bucket = bucketFor(event, eventSlug, role, existing.registration_role);
    if (bucket.name === existing.registration_role) {
      return { status: existing.status, role: bucket.name, changed: false, seatFreed: false, chatEnabled: event.chat_enabled };
    }
    const free = existing.status === 'maybe' || await seatFree(m, event.id, bucket, userId);
    if (existing.status === 'confirmed' && !free) throw new DomainError('role_full', `role ${role} of ${eventSlug} has no free seat`, { role });
    const next: AttendeeStatus = existing.status === 'maybe' ? 'maybe' : free ? 'confirmed' : 'waitlisted';
    await m.query(
      `UPDATE attendees SET registration_role = $3, status = $4, waitlisted_at = CASE WHEN $4 = 'waitlisted' THEN clock_timestamp() END, updated_at = now()
        WHERE event_id = $1 AND user_id = $2`, [event.id, userId, bucket.name, next]);
    const result: RsvpResult = { status: next, role: bucket.name, changed: true, seatFreed: existing.status === 'confirmed', chatEnabled: event.chat_enabled };
    if (next === 'waitlisted') result.waitlistPosition = await waitlistPosition(m, event.id, userId);
    await andThen?.(m, result);
    return result;
  });
}

export interface Promotion { attendeeId: string; userId: string }

/**
 * Confirms waitlisted people, earliest first, while there are free seats: per role on an event
 * that declares roles, else for the event. Idempotent: it derives everything from the rows under
 * the event lock, so a retry never over-fills. Returns null when the event is gone or being
 * deleted (nothing left to promote).
 */
export async function promoteFromWaitlist(ds: DataSource, eventSlug: string): Promise<Promotion[] | null> {
  return ds.transaction(async (m) => {
    const [event] = await m.query(`SELECT id, capacity, status FROM events WHERE slug = $1 FOR UPDATE`, [eventSlug]);
    if (!event || event.status === 'deleting') return null;
    await m.query(`SELECT 1 FROM attendees WHERE event_id = $1 AND status = 'waitlisted' FOR UPDATE`, [event.id]);
    const rows = await m.query(
      `WITH buckets AS (
         SELECT name, capacity FROM event_roles WHERE event_id = $1
         UNION ALL SELECT NULL, $2::int WHERE NOT EXISTS (SELECT 1 FROM event_roles WHERE event_id = $1)),
       free AS (
         SELECT b.name, b.capacity, b.capacity - (SELECT count(*) FROM attendees a
                  WHERE a.event_id = $1 AND a.status = 'confirmed' AND a.registration_role IS NOT DISTINCT FROM b.name) AS seats
           FROM buckets b),
       ranked AS (
         SELECT id, waitlisted_at, registration_role,
                row_number() OVER (PARTITION BY registration_role ORDER BY waitlisted_at, id) AS n
           FROM attendees WHERE event_id = $1 AND status = 'waitlisted'),
       picked AS (
         SELECT r.id, r.waitlisted_at FROM ranked r JOIN free f ON f.name IS NOT DISTINCT FROM r.registration_role
          WHERE f.capacity IS NULL OR r.n <= f.seats),
       promoted AS (
         UPDATE attendees a SET status = 'confirmed', waitlisted_at = NULL, updated_at = now()
           FROM picked WHERE a.id = picked.id
         RETURNING a.id, a.user_id, picked.waitlisted_at)
       SELECT id, user_id FROM promoted ORDER BY waitlisted_at, id`, [event.id, event.capacity]);
    return rows.map((r: { id: string; user_id: string }) => ({ attendeeId: String(r.id), userId: r.user_id }));
  });
}

export interface AttendeeCounts { confirmed: number; waitlisted: number; maybe: number }

/** Counts computed from the attendee rows (index attendees_event_status_idx), for many events at once. */
export async function attendeeCounts(ds: DataSource | EntityManager, eventIds: string[]): Promise<Map<string, AttendeeCounts>> {
  const counts = new Map<string, AttendeeCounts>(eventIds.map((id) => [id, { confirmed: 0, waitlisted: 0, maybe: 0 }]));
  if (eventIds.length === 0) return counts;
  const rows = await ds.query(
    `SELECT event_id, status, count(*)::int AS n FROM attendees
      WHERE event_id = ANY($1::uuid[]) AND status <> 'cancelled' GROUP BY event_id, status`, [eventIds]);
  for (const r of rows as { event_id: string; status: keyof AttendeeCounts; n: number }[]) {
    counts.get(r.event_id)![r.status] = r.n;
  }
  return counts;
}

export interface RoleCounts { name: string; capacity: number | null; attendeeCounts: AttendeeCounts }

/** The roles each event declares, in order, with counts computed from the attendee rows. */
export async function roleCounts(ds: DataSource | EntityManager, eventIds: string[]): Promise<Map<string, RoleCounts[]>> {
  const out = new Map<string, RoleCounts[]>(eventIds.map((id) => [id, []]));
  if (eventIds.length === 0) return out;
  const rows: { event_id: string; name: string; capacity: number | null; confirmed: number; waitlisted: number; maybe: number }[] = await ds.query(
    `SELECT r.event_id, r.name, r.capacity,
            count(a.id) FILTER (WHERE a.status = 'confirmed')::int AS confirmed,
            count(a.id) FILTER (WHERE a.status = 'waitlisted')::int AS waitlisted,
            count(a.id) FILTER (WHERE a.status = 'maybe')::int AS maybe
       FROM event_roles r LEFT JOIN attendees a ON a.event_id = r.event_id AND a.registration_role = r.name
      WHERE r.event_id = ANY($1::uuid[]) GROUP BY r.event_id, r.name, r.capacity, r.position ORDER BY r.event_id, r.position`, [eventIds]);
  for (const r of rows) {
    out.get(r.event_id)!.push({ name: r.name, capacity: r.capacity, attendeeCounts: { confirmed: r.confirmed, waitlisted: r.waitlisted, maybe: r.maybe } });
  }
  return out;
}

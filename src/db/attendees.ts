import type { DataSource, EntityManager } from 'typeorm';
import type { AttendeeStatus } from './entities/attendee.ts';
import type { Role } from './event-roles.ts';
import { dropTallies } from './attendee-tallies.ts';
import { prepared } from './prepared.ts';
import { RSVP_CALLER, type RsvpCaller } from './users.ts';

/**
 * The `attendees` table (registrations for events). Inserts and updates move `attendee_tallies`
 * by trigger; a delete of a live event's rows takes them off itself (`untally`).
 */
type Q = DataSource | EntityManager;

export async function attendeeCount(q: Q, eventId: string): Promise<number> {
  const [{ n }] = await q.query(`SELECT count(*)::int AS n FROM attendees WHERE event_id = $1`, [eventId]);
  return n;
}

/** The event's attendees, and how many of them have an RSVP record on the network: one scan for both. */
export async function attendeeTally(q: Q, eventId: string): Promise<{ attendees: number; rsvpRecords: number }> {
  const [tally] = await q.query(
    `SELECT count(*)::int AS attendees, (count(*) FILTER (WHERE bluesky_uri IS NOT NULL))::int AS "rsvpRecords"
       FROM attendees WHERE event_id = $1`, [eventId]);
  return tally;
}

/**
 * Deletes up to `batchSize` of the event's attendees in one statement, its tallies first
 * (`dropTallies`); answers how many (the command's row count: counting RETURNING rows cost 100k
 * deletions half again). Batches go by physical row id (ctid), which measured ~9x faster than
 * `id IN (... LIMIT)` on 100k rows (bench/event-deletion.ts); a row a concurrent update moved is
 * simply taken by a later batch.
 */
export async function deleteAttendeeBatch(q: Q, eventId: string, batchSize: number): Promise<number> {
  await dropTallies(q, eventId);
  const [, deleted] = await q.query(
    `DELETE FROM attendees WHERE ctid = ANY (ARRAY(SELECT ctid FROM attendees WHERE event_id = $1 LIMIT $2))`, [eventId, batchSize]);
  return deleted;
}

/** Deletes all of the event's attendees in one statement, its tallies first (`meetflow_remove_attendees`); answers how many. */
export async function deleteAllAttendees(q: Q, eventId: string): Promise<number> {
  const [{ n }] = await q.query(`SELECT meetflow_remove_attendees($1) AS n`, [eventId]);
  return n;
}

/** The locked event row, with the roles it declares (in order), read in the same statement. */
export interface SeatedEvent { id: string; capacity: number | null; status: string; chat_enabled: boolean; roles: Role[] }

/** Locks the event row; every change of confirmed seats for an event goes through this lock. */
export async function lockEventSeats(m: EntityManager, slug: string): Promise<SeatedEvent | undefined> {
  const [event] = await m.query(
    `SELECT id, capacity, status, chat_enabled,
            (SELECT coalesce(json_agg(json_build_object('name', r.name, 'capacity', r.capacity) ORDER BY r.position), '[]')
               FROM event_roles r WHERE r.event_id = events.id) AS roles
       FROM events WHERE slug = $1 FOR UPDATE`, [slug]);
  return event;
}

/** What `meetflow_rsvp` answers: the registration after the RSVP, or why it was refused (nothing written). */
export type RsvpOutcome =
  | { error: undefined; status: AttendeeStatus; role: string | null; changed: boolean; chatEnabled: boolean; seatFreed: boolean; waitlistPosition: number | null }
  | { error: 'not_quiet' }
  | RsvpRefusal;
export interface RsvpRefusal { error: 'not_found' | 'event_deleting' | 'event_not_open' | 'unknown_role'; status?: string; role?: string; roles?: string[] }

/**
 * One person's RSVP, decided and written in one statement under the event's row lock (the function
 * of migration 1764000000013: the lock is held for the decision only), inside the caller's
 * transaction. Given notes replace the stored ones; absent ones (undefined) keep them.
 */
export async function decideRsvp(q: Q, r: RsvpInput): Promise<RsvpOutcome> {
  const [{ outcome }] = await q.query(`SELECT meetflow_rsvp($1, $2, $3, $4, $5, $6, $7, $8, false, false) AS outcome`, rsvpParams(r));
  return outcome;
}
export interface RsvpInput {
  slug: string; userId: string; intent: 'going' | 'interested' | 'notgoing'; role?: string; notes?: string | null; specialRequirements?: string | null;
}
const rsvpParams = (r: RsvpInput) => [
  r.slug, r.userId, r.intent, r.role ?? null, r.notes ?? null, r.notes !== undefined, r.specialRequirements ?? null, r.specialRequirements !== undefined];

const CALLER_WITH_QUIET_RSVP = prepared<{ caller: RsvpCaller | null; outcome: RsvpOutcome | null }>(
  `WITH c AS MATERIALIZED (${RSVP_CALLER})
   SELECT to_jsonb(c) AS caller,
          CASE WHEN NOT (c."blueskyConnected" AND c."blueskyAutoPublish")
                    AND NOT coalesce($10 AND c."eventStatus" = 'draft', false)
                    AND NOT coalesce(c.held = 'confirmed' AND $3 <> 'going', false)
               THEN meetflow_rsvp($1, $2, $3, $4, $5, $6, $7, $8, true, $9) END AS outcome
     FROM c`);

/**
 * The caller of an RSVP (null: no such user, RSVP_CALLER) and, in the same statement, the RSVP
 * decided quietly: on its own (autocommit), written only if its outcome sets nothing in motion
 * (else `not_quiet`, nothing written). One round trip for most RSVPs (bench/rsvp-throughput.ts, 100
 * events at concurrency 64: ~90% of the GET rate with two, ~100% with one). Not tried (`outcome` null, nothing written) for a person whose
 * RSVPs publish records (`publishesRsvps` in src/follow-ups/rules.ts: every change has a follow-up),
 * a sign-up to a draft (`hideDraft`: the caller tells managers and others apart), or a confirmed
 * seat given up (not quiet: its promotion is written with it; the event's lock is taken once).
 */
export async function callerWithQuietRsvp(q: Q, r: RsvpInput, { chatOn, hideDraft }: { chatOn: boolean; hideDraft: boolean }): Promise<{ caller: RsvpCaller | null; outcome: RsvpOutcome | null }> {
  const [row] = await CALLER_WITH_QUIET_RSVP(q, [...rsvpParams(r), chatOn, hideDraft]);
  return { caller: row?.caller ?? null, outcome: row?.outcome ?? null };
}

export interface RegistrationRow { status: AttendeeStatus; registration_role: string | null; notes: string | null; special_requirements: string | null }

export async function registrationOf(m: EntityManager, eventId: string, userId: string): Promise<RegistrationRow | undefined> {
  const [row] = await m.query(
    `SELECT status, registration_role, notes, special_requirements FROM attendees WHERE event_id = $1 AND user_id = $2`, [eventId, userId]);
  return row;
}

/**
 * The person's place in their bucket's waitlist, from 1. Their own row is read once
 * (MATERIALIZED): with a fresh event's statistics the planner otherwise re-read it for every
 * waiting row (the same query in `meetflow_rsvp`).
 */
export async function waitlistPosition(m: EntityManager, eventId: string, userId: string): Promise<number> {
  const [row] = await m.query(
    `WITH me AS MATERIALIZED (SELECT registration_role, waitlisted_at, id FROM attendees WHERE event_id = $1 AND user_id = $2)
     SELECT count(*)::int AS ahead FROM attendees w, me
      WHERE w.event_id = $1 AND w.status = 'waitlisted'
        AND w.registration_role IS NOT DISTINCT FROM me.registration_role
        AND (w.waitlisted_at, w.id) < (me.waitlisted_at, me.id)`, [eventId, userId]);
  return row.ahead + 1;
}

/** A registration moves to another role, with its new status (waiting ones join the back of the queue). */
export async function setRegistrationRole(m: EntityManager, eventId: string, userId: string, role: string | null, status: AttendeeStatus): Promise<void> {
  await m.query(
    `UPDATE attendees SET registration_role = $3, status = $4, waitlisted_at = CASE WHEN $4 = 'waitlisted' THEN clock_timestamp() END, updated_at = now()
      WHERE event_id = $1 AND user_id = $2`, [eventId, userId, role, status]);
}

/**
 * Confirms waitlisted people, earliest first, while there are free seats: per role on an event
 * that declares roles, else for the event (capacity `eventCapacity`); at most `perBucket` people
 * per role (null: no limit). Free seats come from the confirmed tally, and only the people
 * promoted are read, never the whole waitlist: a seat given up on a popular event costs what it
 * costs on a small one (bench/rsvp-throughput.ts: cancellations on an event with 10,000 waiting
 * went from 3 to 152 a second). The caller holds the event lock. Answers who was promoted, in
 * arrival order.
 */
export async function promoteWaitlisted(
  m: EntityManager, eventId: string, eventCapacity: number | null, perBucket: number | null = null,
): Promise<{ id: string; user_id: string }[]> {
  return m.query(
    `WITH buckets AS (
       SELECT name, capacity FROM event_roles WHERE event_id = $1
       UNION ALL SELECT NULL, $2::int WHERE NOT EXISTS (SELECT 1 FROM event_roles WHERE event_id = $1)),
     free AS (
       SELECT b.name, CASE WHEN b.capacity IS NULL THEN $3::int -- no capacity: everyone waiting (LIMIT NULL), up to perBucket
                      ELSE greatest(0, least(coalesce($3::int, b.capacity), b.capacity - (SELECT coalesce(sum(t.n), 0)::int FROM attendee_tallies t
                             WHERE t.event_id = $1 AND t.role = coalesce(b.name, '') AND t.status = 'confirmed'))) END AS seats
         FROM buckets b),
     -- Each bucket's first people in line, read in order from its waitlist index (an event without
     -- roles: attendees_waitlist_idx; a role: attendees_role_waitlist_idx) and stopped at the seats.
     picked AS (
       SELECT w.id, w.waitlisted_at FROM free f CROSS JOIN LATERAL (
         (SELECT a.id, a.waitlisted_at FROM attendees a
           WHERE f.name IS NULL AND a.event_id = $1 AND a.status = 'waitlisted' AND a.registration_role IS NULL
           ORDER BY a.waitlisted_at, a.id LIMIT f.seats)
         UNION ALL
         (SELECT a.id, a.waitlisted_at FROM attendees a
           WHERE a.event_id = $1 AND a.status = 'waitlisted' AND a.registration_role = f.name
           ORDER BY a.registration_role, a.waitlisted_at, a.id LIMIT f.seats)) w),
     -- By id (an array, so the plan is an index lookup whatever the estimate); a row a claim's merge
     -- changed meanwhile is no longer waiting and stays as it is.
     promoted AS (
       UPDATE attendees a SET status = 'confirmed', waitlisted_at = NULL, updated_at = now()
        WHERE a.id = ANY (ARRAY(SELECT id FROM picked)) AND a.status = 'waitlisted'
       RETURNING a.id, a.user_id)
     SELECT id, p.user_id FROM promoted p JOIN picked USING (id) ORDER BY picked.waitlisted_at, id`, [eventId, eventCapacity, perBucket]);
}

/** A role some live registration of the event holds that is not among `names`, if any. */
export async function roleInUseOutside(m: EntityManager, eventId: string, names: string[]): Promise<string | null> {
  const [inUse] = await m.query(
    `SELECT registration_role AS name FROM attendees WHERE event_id = $1 AND status <> 'cancelled'
        AND registration_role IS NOT NULL AND NOT registration_role = ANY($2::text[]) LIMIT 1`, [eventId, names]);
  return inUse?.name ?? null;
}

/** Registrations without one of `names` as their role (made before roles existed, or cancelled ones of a role that goes) join `role`. */
export async function assignRoleOutside(m: EntityManager, eventId: string, role: string | null, names: string[]): Promise<void> {
  await m.query(
    `UPDATE attendees SET registration_role = $2 WHERE event_id = $1
        AND (registration_role IS NULL OR NOT registration_role = ANY($3::text[]))
        AND registration_role IS DISTINCT FROM $2`, [eventId, role, names]);
}

export interface AttendeeListRow {
  id: string; user_id: string; slug: string; display_name: string; status: 'confirmed' | 'waitlisted' | 'maybe'; since: Date; pos: number | null;
  rank: number; w: string; registration_role: string | null; notes: string | null; special_requirements: string | null;
}

/**
 * A page of the event's live registrations, keyset-paginated over (status rank, waitlist time,
 * id) after `after`; waitlist positions count the whole waitlist of the role.
 */
export function attendeesPage(q: Q, eventId: string, after: readonly [number, string, string] | null, limit: number): Promise<AttendeeListRow[]> {
  return q.query(
    `WITH ranked AS (
       SELECT a.id, a.user_id, u.slug, u.display_name, a.status, a.updated_at AS since, a.registration_role, a.notes, a.special_requirements,
              array_position(ARRAY['confirmed', 'waitlisted', 'maybe'], a.status) AS rank,
              coalesce(a.waitlisted_at, to_timestamp(0))::text AS w,
              CASE WHEN a.status = 'waitlisted'
                THEN row_number() OVER (PARTITION BY a.status, a.registration_role ORDER BY a.waitlisted_at, a.id) END::int AS pos
         FROM attendees a JOIN users u ON u.id = a.user_id
        WHERE a.event_id = $1 AND a.status <> 'cancelled')
     SELECT * FROM ranked WHERE $2::int IS NULL OR (rank, w::timestamptz, id) > ($2::int, $3::timestamptz, $4::bigint)
      ORDER BY rank, w::timestamptz, id LIMIT $5`,
    [eventId, after?.[0] ?? null, after?.[1] ?? null, after?.[2] ?? null, limit]);
}

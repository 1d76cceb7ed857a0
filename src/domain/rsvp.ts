import type { DataSource, EntityManager } from 'typeorm';
import type { AttendeeStatus } from '../db/entities/attendee.ts';
import { DomainError, notFound } from './errors.ts';

/** What the caller says (api.md / AT Protocol), mapped to the attendee status it becomes. */
export type RsvpIntent = 'going' | 'interested' | 'notgoing';

export interface RsvpResult {
  status: AttendeeStatus;
  waitlistPosition?: number;
  /** A confirmed seat was given up: the waitlist must be promoted. */
  seatFreed: boolean;
  changed: boolean;
  /** The event has a chat room whose membership follows confirmations. */
  chatEnabled: boolean;
}

interface LockedEvent { id: string; capacity: number | null; status: string; chat_enabled: boolean }

/** Locks the event row; every change of confirmed seats for an event goes through this lock. */
async function lockEvent(m: EntityManager, slug: string): Promise<LockedEvent> {
  const [event] = await m.query(`SELECT id, capacity, status, chat_enabled FROM events WHERE slug = $1 FOR UPDATE`, [slug]);
  if (!event) throw notFound('event', slug);
  if (event.status === 'deleting') {
    throw new DomainError(409, 'event_deleting', `event ${slug} is being deleted and takes no RSVPs`);
  }
  return event;
}

async function waitlistPosition(m: EntityManager, eventId: string, userId: string): Promise<number> {
  const [row] = await m.query(
    `SELECT count(*)::int AS ahead FROM attendees w, attendees me
      WHERE me.event_id = $1 AND me.user_id = $2 AND w.event_id = $1 AND w.status = 'waitlisted'
        AND (w.waitlisted_at, w.id) < (me.waitlisted_at, me.id)`, [eventId, userId]);
  return row.ahead + 1;
}

/**
 * Records one person's RSVP atomically. `going` confirms only while confirmed + waitlisted is
 * below capacity (people already waiting keep their place), otherwise waitlists; repeating an
 * RSVP changes nothing. Arrival order is the order in which requests take the event lock, and
 * `clock_timestamp()` (not the transaction's start time) records it.
 */
export async function rsvp(
  ds: DataSource, eventSlug: string, userId: string, intent: RsvpIntent,
  /** Runs inside the transaction, before it commits: what the change sets in motion is recorded with it. */
  andThen?: (m: EntityManager, result: RsvpResult) => Promise<void>,
): Promise<RsvpResult> {
  return ds.transaction(async (m) => {
    const event = await lockEvent(m, eventSlug);
    if (intent !== 'notgoing' && event.status !== 'published') {
      // A draft or cancelled event takes no sign-ups; giving one up is always possible.
      throw new DomainError(409, 'event_not_open', `event ${eventSlug} is ${event.status} and takes no RSVPs`, { status: event.status });
    }
    const [existing] = await m.query(`SELECT status FROM attendees WHERE event_id = $1 AND user_id = $2`, [event.id, userId]);
    const previous: AttendeeStatus | undefined = existing?.status;

    let next: AttendeeStatus;
    if (intent === 'interested') next = 'maybe';
    else if (intent === 'notgoing') next = 'cancelled';
    else if (previous === 'confirmed' || previous === 'waitlisted') next = previous;
    else {
      const [counts] = await m.query(
        `SELECT count(*) FILTER (WHERE status = 'confirmed')::int AS confirmed,
                count(*) FILTER (WHERE status = 'waitlisted')::int AS waitlisted
           FROM attendees WHERE event_id = $1`, [event.id]);
      const full = event.capacity !== null && counts.confirmed + counts.waitlisted >= event.capacity;
      next = full ? 'waitlisted' : 'confirmed';
    }

    const changed = next !== previous;
    if (changed) {
      await m.query(
        `INSERT INTO attendees (event_id, user_id, status, waitlisted_at)
         VALUES ($1, $2, $3, CASE WHEN $3 = 'waitlisted' THEN clock_timestamp() END)
         ON CONFLICT (event_id, user_id) DO UPDATE
           SET status = EXCLUDED.status, waitlisted_at = EXCLUDED.waitlisted_at, updated_at = now()`,
        [event.id, userId, next]);
    }
    const result: RsvpResult = {
      status: next, seatFreed: previous === 'confirmed' && next !== 'confirmed', changed, chatEnabled: event.chat_enabled,
    };
    if (next === 'waitlisted') result.waitlistPosition = await waitlistPosition(m, event.id, userId);
    await andThen?.(m, result);
    return result;
  });
}

export interface Promotion { attendeeId: string; userId: string }

/**
 * Confirms waitlisted people, earliest first, while there are free seats. Idempotent: it
 * derives everything from the rows under the event lock, so a retry never over-fills.
 * Returns null when the event is gone or being deleted (nothing left to promote).
 */
export async function promoteFromWaitlist(ds: DataSource, eventSlug: string): Promise<Promotion[] | null> {
  return ds.transaction(async (m) => {
    const [event] = await m.query(`SELECT id, capacity, status FROM events WHERE slug = $1 FOR UPDATE`, [eventSlug]);
    if (!event || event.status === 'deleting') return null;
    const rows = await m.query(
      `WITH picked AS (
         SELECT id, waitlisted_at FROM attendees WHERE event_id = $1 AND status = 'waitlisted'
          ORDER BY waitlisted_at, id
          LIMIT CASE WHEN $2::int IS NULL THEN NULL ELSE GREATEST($2::int -
            (SELECT count(*) FROM attendees WHERE event_id = $1 AND status = 'confirmed'), 0) END
          FOR UPDATE),
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

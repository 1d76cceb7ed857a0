import type { DataSource, EntityManager } from 'typeorm';
import { prepared } from './prepared.ts';

/**
 * The `attendee_tallies` table: registrations per event, role ('' for none) and status, kept by
 * triggers on `attendees` inserts and updates, and by the two kinds of delete below (migration
 * 1764000000016 says why), so reading one never reads the rows.
 */
type Q = DataSource | EntityManager;

/** An event being deleted loses its tallies before its attendees go (nothing reads a tombstoned event's). */
export async function dropTallies(q: Q, eventId: string): Promise<void> {
  await q.query(`DELETE FROM attendee_tallies WHERE event_id = $1`, [eventId]);
}

/** Takes deleted attendee rows of live events off their tallies, in the transaction that deleted them. */
export async function untally(m: EntityManager, rows: { event_id: string; registration_role: string | null; status: string }[]): Promise<void> {
  if (!rows.length) return;
  await m.query(
    `UPDATE attendee_tallies t SET n = t.n - d.n
       FROM (SELECT event_id, coalesce(registration_role, '') AS role, status, count(*)::int AS n
               FROM jsonb_to_recordset($1) AS r(event_id uuid, registration_role text, status text) GROUP BY 1, 2, 3) d
      WHERE t.event_id = d.event_id AND t.role = d.role AND t.status = d.status`, [JSON.stringify(rows)]);
}

/** Seats held in a bucket (a role, or the event when `role` is null): confirmed and waiting people. */
export async function seatsHeld(q: Q, eventId: string, role: string | null): Promise<number> {
  const [held] = await q.query(
    `SELECT coalesce(sum(n), 0)::int AS n FROM attendee_tallies WHERE event_id = $1 AND role = coalesce($2, '')
        AND status IN ('confirmed', 'waitlisted')`, [eventId, role]);
  return held.n;
}

/** Those of these events where people wait for a seat. */
export async function withWaitlist(q: Q, eventIds: string[]): Promise<Set<string>> {
  if (!eventIds.length) return new Set();
  const rows: { id: string }[] = await q.query(
    `SELECT e.id FROM unnest($1::uuid[]) AS e(id)
      WHERE EXISTS (SELECT 1 FROM attendee_tallies w WHERE w.event_id = e.id AND w.status = 'waitlisted' AND w.n > 0)`, [eventIds]);
  return new Set(rows.map((r) => r.id));
}

export interface AttendeeCounts { confirmed: number; waitlisted: number; maybe: number }

const ATTENDEE_COUNTS = prepared<{ event_id: string; status: keyof AttendeeCounts; n: number }>(
  `SELECT event_id, status, sum(n)::int AS n FROM attendee_tallies
    WHERE event_id = ANY($1::uuid[]) AND status <> 'cancelled' GROUP BY event_id, status`);

/** Each event's registrations by status (all roles together), for many events at once. */
export async function attendeeCounts(q: Q, eventIds: string[]): Promise<Map<string, AttendeeCounts>> {
  const counts = new Map<string, AttendeeCounts>(eventIds.map((id) => [id, { confirmed: 0, waitlisted: 0, maybe: 0 }]));
  if (eventIds.length === 0) return counts;
  for (const r of await ATTENDEE_COUNTS(q, [eventIds])) {
    counts.get(r.event_id)![r.status] = r.n;
  }
  return counts;
}

export interface RoleCounts { name: string; capacity: number | null; attendeeCounts: AttendeeCounts }

/**
 * Each role's tallies are read by their key (LATERAL). As a join, the plan kept for the statement
 * hashed the whole table once `attendee_tallies` was analyzed with a few thousand rows (EXPLAIN of
 * the generic plan, 2,001 tallies: 0.25 ms per event with roles, 0.04 ms this way), and it grows
 * with every event ever held.
 */
const ROLE_COUNTS = prepared<{ event_id: string; name: string; capacity: number | null; confirmed: number; waitlisted: number; maybe: number }>(
  `SELECT r.event_id, r.name, r.capacity, t.confirmed, t.waitlisted, t.maybe
     FROM event_roles r CROSS JOIN LATERAL (
            SELECT coalesce(sum(n) FILTER (WHERE status = 'confirmed'), 0)::int AS confirmed,
                   coalesce(sum(n) FILTER (WHERE status = 'waitlisted'), 0)::int AS waitlisted,
                   coalesce(sum(n) FILTER (WHERE status = 'maybe'), 0)::int AS maybe
              FROM attendee_tallies WHERE event_id = r.event_id AND role = r.name) t
    WHERE r.event_id = ANY($1::uuid[]) ORDER BY r.event_id, r.position`);

/** The roles each event declares, in order, with their registrations by status. */
export async function roleCounts(q: Q, eventIds: string[]): Promise<Map<string, RoleCounts[]>> {
  const out = new Map<string, RoleCounts[]>(eventIds.map((id) => [id, []]));
  if (eventIds.length === 0) return out;
  for (const r of await ROLE_COUNTS(q, [eventIds])) {
    out.get(r.event_id)!.push({ name: r.name, capacity: r.capacity, attendeeCounts: { confirmed: r.confirmed, waitlisted: r.waitlisted, maybe: r.maybe } });
  }
  return out;
}

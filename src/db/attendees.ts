import type { DataSource, EntityManager } from 'typeorm';

/** The `attendees` table (registrations for events). */
type Q = DataSource | EntityManager;

export async function attendeeCount(q: Q, eventId: string): Promise<number> {
  const [{ n }] = await q.query(`SELECT count(*)::int AS n FROM attendees WHERE event_id = $1`, [eventId]);
  return n;
}

/**
 * Deletes up to `batchSize` of the event's attendees in one statement; answers how many. Batches
 * go by physical row id (ctid), which measured ~9x faster than `id IN (... LIMIT)` on 100k rows
 * (bench/event-deletion.ts); a row a concurrent update moved is simply taken by a later batch.
 */
export async function deleteAttendeeBatch(q: Q, eventId: string, batchSize: number): Promise<number> {
  const [{ n }] = await q.query(
    `WITH gone AS (
       DELETE FROM attendees WHERE ctid = ANY (ARRAY(SELECT ctid FROM attendees WHERE event_id = $1 LIMIT $2)) RETURNING 1)
     SELECT count(*)::int AS n FROM gone`,
    [eventId, batchSize]);
  return n;
}

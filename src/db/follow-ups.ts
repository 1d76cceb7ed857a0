import type { DataSource, EntityManager } from 'typeorm';
import { changedRows } from './changed-rows.ts';

/** The `follow_ups` table: the outbox of wake-ups a change sets in motion (src/follow-ups/outbox.ts). */
export interface FollowUpRow { type: string; slug: string; detail?: Record<string, unknown> }

/** Inserts follow-ups leased for `leaseS` (their caller delivers them right after the commit); answers their ids in order. */
export async function insertFollowUps(m: EntityManager, items: FollowUpRow[], leaseS: number): Promise<string[]> {
  const rows: { id: string }[] = await m.query(
    `INSERT INTO follow_ups (type, slug, detail, attempts, next_attempt_at)
     SELECT t, s, d, 1, now() + make_interval(secs => $4) FROM unnest($1::text[], $2::text[], $3::jsonb[]) AS u(t, s, d) RETURNING id`,
    [items.map((i) => i.type), items.map((i) => i.slug), items.map((i) => JSON.stringify(i.detail ?? {})), leaseS]);
  return rows.map((r) => String(r.id));
}

/** Leases up to `batch` due follow-ups (others skip the locked ones); answers them with their age in seconds. */
export function leaseDue(ds: DataSource, batch: number, leaseS: number) {
  return changedRows<FollowUpRow & { id: string; age: number }>(ds,
    `UPDATE follow_ups SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $1)
      WHERE id IN (SELECT id FROM follow_ups WHERE next_attempt_at <= now() ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
      RETURNING id, type, slug, detail, extract(epoch FROM clock_timestamp() - created_at)::float8 AS age`, [leaseS, batch]);
}

/** Due now: for the relay's next loop. */
export async function makeDue(ds: DataSource, ids: string[]): Promise<void> {
  await ds.query(`UPDATE follow_ups SET next_attempt_at = now() WHERE id = ANY($1::bigint[])`, [ids]);
}

/** Everything that backed off after a failure is due now. */
export async function makeFailedDue(ds: DataSource): Promise<void> {
  await ds.query(`UPDATE follow_ups SET next_attempt_at = now() WHERE last_error IS NOT NULL AND next_attempt_at > now()`);
}

export async function deleteFollowUp(ds: DataSource, id: string): Promise<void> {
  await ds.query(`DELETE FROM follow_ups WHERE id = $1`, [id]);
}

/** A failed delivery: kept with its error, again after 1 s doubling per attempt up to 5 min. */
export async function backOff(ds: DataSource, id: string, error: string): Promise<void> {
  await ds.query(
    `UPDATE follow_ups SET last_error = $2, next_attempt_at = now() + make_interval(secs => least(power(2, attempts - 1), 300))
      WHERE id = $1`, [id, error.slice(0, 500)]);
}

import type { DataSource } from 'typeorm';
import { changedRows } from './changed-rows.ts';

/** The `ingestion_dead_letters` table: what could not be ingested, with why, kept for operators. */
export interface DeadLetter { source: string; uri: string | null; cid?: string | null; collection?: string | null; reason: string; payload?: unknown }
export interface DeadLetterRow { id: string; source: string; uri: string | null; cid: string | null; collection: string | null; reason: string; payload: unknown; created_at: Date }

/** A dead letter's columns, in the order of the INSERTs below. */
const columns = (d: DeadLetter) => [d.source, d.uri, d.cid ?? null, d.collection ?? null, d.reason, d.payload === undefined ? null : JSON.stringify(d.payload)];

/** Keeps one; the pipeline goes on. */
export async function deadLetter(ds: DataSource, d: DeadLetter): Promise<void> {
  await ds.query(`INSERT INTO ingestion_dead_letters (source, uri, cid, collection, reason, payload) VALUES ($1, $2, $3, $4, $5, $6)`, columns(d));
}

/** Keeps one unless this record's version is kept from the same source already (a retried step writes it once). */
export async function deadLetterOnce(ds: DataSource, d: DeadLetter): Promise<void> {
  await ds.query(
    `INSERT INTO ingestion_dead_letters (source, uri, cid, collection, reason, payload) SELECT $1, $2, $3, $4, $5, $6
      WHERE NOT EXISTS (SELECT 1 FROM ingestion_dead_letters WHERE uri = $2 AND source = $1 AND cid IS NOT DISTINCT FROM $3)`, columns(d));
}

/** Newest first, after the id `before` (paging), optionally of one source. */
export function deadLetters(ds: DataSource, q: { source?: string; before?: string; limit: number }): Promise<DeadLetterRow[]> {
  return ds.query(
    `SELECT d.id::text AS id, d.source, d.uri, d.cid, d.collection, d.reason, d.payload, d.created_at FROM ingestion_dead_letters d
      WHERE ($1::text IS NULL OR d.source = $1) AND ($2::bigint IS NULL OR d.id < $2) ORDER BY d.id DESC LIMIT $3`, // by number, not by its text
    [q.source ?? null, q.before ?? null, q.limit]);
}

export async function deadLetterById(ds: DataSource, id: string): Promise<DeadLetterRow | undefined> {
  const [row] = await ds.query(`SELECT id::text, source, uri, cid, collection, reason, payload, created_at FROM ingestion_dead_letters WHERE id = $1`, [id]);
  return row;
}

/** Removes it once handled again; false when it was gone already. */
export async function removeDeadLetter(ds: DataSource, id: string): Promise<boolean> {
  return (await changedRows(ds, `DELETE FROM ingestion_dead_letters WHERE id = $1 RETURNING id`, [id])).length > 0;
}

/** A retry that failed again: the new reason. */
export async function setDeadLetterReason(ds: DataSource, id: string, reason: string): Promise<void> {
  await ds.query(`UPDATE ingestion_dead_letters SET reason = $2 WHERE id = $1`, [id, reason]);
}

import type { DataSource } from 'typeorm';

export interface DeadLetter { source: string; uri: string | null; cid?: string | null; collection?: string | null; reason: string; payload?: unknown }

/** What could not be ingested, with why, kept for operators: the pipeline goes on. */
export async function deadLetter(ds: DataSource, d: DeadLetter): Promise<void> {
  await ds.query(`INSERT INTO ingestion_dead_letters (source, uri, cid, collection, reason, payload) VALUES ($1, $2, $3, $4, $5, $6)`,
    [d.source, d.uri, d.cid ?? null, d.collection ?? null, d.reason, d.payload === undefined ? null : JSON.stringify(d.payload)]);
}

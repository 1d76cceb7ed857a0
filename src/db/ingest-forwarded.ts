import type { DataSource } from 'typeorm';

/**
 * The `ingest_forwarded` table: records whose changes go to their own `bsky-ingest:<uri>` workflow
 * rather than a lane's batch (see src/activities/ingest/batch.ts). A row outlives its workflow by
 * far (parking lasts an hour, idling ten minutes): kept for a week, then pruned.
 */
export async function forwardedAmong(ds: DataSource, uris: string[]): Promise<Set<string>> {
  const rows: { uri: string }[] = await ds.query(`SELECT uri FROM ingest_forwarded WHERE uri = ANY($1)`, [uris]);
  return new Set(rows.map((r) => r.uri));
}

/** Marks a record as followed by its own workflow (before its change is handed there). */
export async function markForwarded(ds: DataSource, uri: string): Promise<void> {
  await ds.query(`INSERT INTO ingest_forwarded (uri) VALUES ($1) ON CONFLICT (uri) DO UPDATE SET forwarded_at = now()`, [uri]);
}

export async function pruneForwarded(ds: DataSource): Promise<void> {
  await ds.query(`DELETE FROM ingest_forwarded WHERE forwarded_at < now() - interval '7 days'`);
}

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

/** Marks a record (of the author `did`) as followed by its own workflow (before its change is handed there). */
export async function markForwarded(ds: DataSource, uri: string, did: string): Promise<void> {
  await ds.query(`INSERT INTO ingest_forwarded (uri, did) VALUES ($1, $2) ON CONFLICT (uri) DO UPDATE SET forwarded_at = now(), did = $2`, [uri, did]);
}

/** How many of the author's records went to their own workflows within the last hour (a parked RSVP's wait), counted up to `max`. */
export async function forwardedLately(ds: DataSource, did: string, max: number): Promise<number> {
  const [{ n }] = await ds.query(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM ingest_forwarded WHERE did = $1 AND forwarded_at > now() - interval '1 hour' LIMIT $2) f`, [did, max]);
  return n;
}

export async function pruneForwarded(ds: DataSource): Promise<void> {
  await ds.query(`DELETE FROM ingest_forwarded WHERE forwarded_at < now() - interval '7 days'`);
}

import type { DataSource } from 'typeorm';

/** `n` users confirmed on the event, written in one statement (test data, not the code under test). */
export async function seedAttendees(ds: DataSource, eventSlug: string, n: number): Promise<void> {
  await ds.query(
    `WITH u AS (
       INSERT INTO users (slug, display_name)
       SELECT 'bulk-' || $1 || '-' || g, 'Bulk ' || g FROM generate_series(1, $2) g RETURNING id)
     INSERT INTO attendees (event_id, user_id, status)
     SELECT (SELECT id FROM events WHERE slug = $1), u.id, 'confirmed' FROM u`, [eventSlug, n]);
}

/** Rows in any table whose foreign key points at this event (every FK to events, from the catalog). */
export async function rowsReferencingEvent(ds: DataSource, eventId: string): Promise<Record<string, number>> {
  const fks: { tbl: string; col: string }[] = await ds.query(
    `SELECT c.conrelid::regclass::text AS tbl, a.attname AS col FROM pg_constraint c
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
      WHERE c.contype = 'f' AND c.confrelid = 'events'::regclass`);
  if (fks.length < 4) throw new Error(`expected the foreign keys to events, found ${JSON.stringify(fks)}`);
  const out: Record<string, number> = {};
  for (const { tbl, col } of fks) {
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM ${tbl} WHERE ${col} = $1`, [eventId]);
    out[`${tbl}.${col}`] = n;
  }
  return out;
}

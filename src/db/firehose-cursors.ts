import type { DataSource } from 'typeorm';

/** The `firehose_cursors` table: how far the consumer has handed off each relay's stream. */

export async function savedCursor(ds: DataSource, service: string): Promise<number | undefined> {
  const [saved] = await ds.query(`SELECT cursor FROM firehose_cursors WHERE service = $1`, [service]);
  return saved ? Number(saved.cursor) : undefined;
}

/** Moves the cursor forward (never back: an older save arriving late changes nothing). */
export async function saveCursor(ds: DataSource, service: string, cursor: number): Promise<void> {
  await ds.query(
    `INSERT INTO firehose_cursors (service, cursor) VALUES ($1, $2)
     ON CONFLICT (service) DO UPDATE SET cursor = GREATEST(firehose_cursors.cursor, EXCLUDED.cursor), updated_at = now()`, [service, cursor]);
}

/** Every service's cursor, for operators. */
export function cursors(ds: DataSource): Promise<{ service: string; cursor: string; updated_at: Date }[]> {
  return ds.query(`SELECT service, cursor::text, updated_at FROM firehose_cursors ORDER BY service`);
}

/** Sets the cursor to `cursor`, back or forth (an operator's move: the consumer must be stopped). */
export async function moveCursor(ds: DataSource, service: string, cursor: number): Promise<void> {
  await ds.query(
    `INSERT INTO firehose_cursors (service, cursor) VALUES ($1, $2)
     ON CONFLICT (service) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()`, [service, cursor]);
}

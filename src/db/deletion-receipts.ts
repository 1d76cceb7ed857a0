import type { DataSource } from 'typeorm';

/**
 * The `deletion_receipts` table: a lone event deletion's report, by workflow run (migration
 * 1764000000019 says why; `meetflow_delete_lone_event` keeps it).
 */

export async function receiptOf<T>(ds: DataSource, runId: string): Promise<T | null> {
  const [row] = await ds.query(`SELECT report FROM deletion_receipts WHERE run_id = $1`, [runId]);
  return row?.report ?? null;
}

export async function purgeOldReceipts(ds: DataSource): Promise<void> {
  await ds.query(`DELETE FROM deletion_receipts WHERE created_at <= now() - interval '24 hours'`);
}

import type { DataSource, EntityManager } from 'typeorm';

/** The `idempotency_keys` table: the kept answer of each request with an Idempotency-Key, for 24 hours. */
export interface KeptAnswer { request_hash: string; status: number; body: unknown }

export async function keptAnswer(ds: DataSource, scope: string, key: string): Promise<KeptAnswer | undefined> {
  const [row] = await ds.query(
    `SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at > now() - interval '24 hours'`,
    [scope, key]);
  return row;
}

/** Keeps the answer in the change's transaction; false when a live key (a concurrent duplicate's) holds it. An expired one is reused. */
export async function keepAnswerRow(m: EntityManager, scope: string, key: string, hash: string, status: number, body: unknown): Promise<boolean> {
  const [row] = await m.query(
    `INSERT INTO idempotency_keys (scope, key, request_hash, status, body) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, status = EXCLUDED.status, body = EXCLUDED.body, created_at = now()
       WHERE idempotency_keys.created_at <= now() - interval '24 hours'
     RETURNING 1`, [scope, key, hash, status, JSON.stringify(body)]);
  return row !== undefined;
}

/** The answer as sent (it may carry what happened after the commit, e.g. delivered operations). */
export async function replaceAnswerBody(ds: DataSource, scope: string, key: string, body: unknown): Promise<void> {
  await ds.query(`UPDATE idempotency_keys SET body = $3 WHERE scope = $1 AND key = $2`, [scope, key, JSON.stringify(body)]);
}

export async function purgeExpiredKeys(ds: DataSource): Promise<void> {
  await ds.query(`DELETE FROM idempotency_keys WHERE created_at <= now() - interval '24 hours'`);
}

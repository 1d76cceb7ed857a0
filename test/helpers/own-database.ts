import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../src/config.ts';
import { createDataSource } from '../../src/db/data-source.ts';

/**
 * A migrated database of its own on the test run's Postgres, for a test that acts on every row
 * (the reconciler, a schedule): it never touches, nor races, what other files set up. `drop` removes it.
 */
export async function ownDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = loadConfig();
  const name = `${prefix}_${randomUUID().slice(0, 8)}`;
  const url = base.DATABASE_URL.replace(/\/[^/]+$/, `/${name}`);
  const onServer = async (sql: string) => {
    const admin = await createDataSource(base).initialize();
    try { await admin.query(sql); } finally { await admin.destroy(); }
  };
  await onServer(`CREATE DATABASE ${name}`);
  const own = await createDataSource({ ...base, DATABASE_URL: url }).initialize();
  await own.runMigrations();
  await own.destroy();
  return { url, drop: () => onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

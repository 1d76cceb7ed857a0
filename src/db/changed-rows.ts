import type { DataSource, EntityManager } from 'typeorm';

/**
 * The RETURNING rows of an UPDATE or DELETE. TypeORM's Postgres driver answers those statements
 * with `[rows, affected count]` (SELECT and INSERT with the rows alone); reading them here keeps
 * callers from indexing by hand (a `const [row] = …` there silently gets the array).
 */
export async function changedRows<T = Record<string, any>>(q: DataSource | EntityManager, sql: string, params: unknown[] = []): Promise<T[]> {
  const [rows] = await q.query(sql, params);
  return rows;
}

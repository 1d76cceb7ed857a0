import { createHash } from 'node:crypto';
import type { PoolClient } from 'pg';
import { QueryFailedError, DataSource, type EntityManager, type EntitySchema } from 'typeorm';
import { poolOf } from './data-source.ts';

/**
 * A statement of a hot path, run under a name so that each pooled connection parses it once and,
 * after a few runs, keeps one plan for it (re-made when its tables are analyzed again, like the
 * plans inside PL/pgSQL functions). Parsing and planning were most of Postgres's CPU for the
 * short reads the API makes on every request: the RSVP caller's read took 150 µs of backend CPU
 * unnamed and 33 µs prepared (20,000 runs on one connection). The text must be constant (its
 * name is a hash of it), so a connection holds a small fixed set of plans. Its rows come back as
 * `q.query` gives them, in or out of a transaction, and a failure as TypeORM's `QueryFailedError`,
 * so it maps to the same answers (src/api/errors.ts).
 */
export function prepared<Row>(text: string): (q: DataSource | EntityManager, values: unknown[]) => Promise<Row[]> {
  const name = `meetflow_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
  return async (q, values) => {
    const runner = q instanceof DataSource ? undefined : q.queryRunner; // an EntityManager's transaction
    const client = runner ? await runner.connect() as PoolClient : poolOf(q instanceof DataSource ? q : q.connection);
    try {
      return (await client.query({ name, text, values })).rows;
    } catch (err) {
      throw (err as { severity?: string }).severity ? new QueryFailedError(text, values, err as Error) : err; // the server's errors, as TypeORM wraps them
    }
  };
}

/**
 * Every column of an entity as its property (`start_at AS "startAt"`): a row read with these is the
 * object TypeORM would build. `findOneBy` rebuilds its SQL on every call, a sixth of the API's CPU
 * for a GET of an event (bench/rsvp-throughput.ts, profiled).
 */
export const asEntity = (entity: EntitySchema<object>) => Object.entries(entity.options.columns)
  .map(([property, column]) => `${column?.name ?? property} AS "${property}"`).join(', ');

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryFailedError, type DataSource } from 'typeorm';
import { loadConfig } from '../../src/config.ts';
import { createDataSource } from '../../src/db/data-source.ts';
import { prepared } from '../../src/db/prepared.ts';

let ds: DataSource;
beforeAll(async () => { ds = await createDataSource(loadConfig()).initialize(); });
afterAll(async () => { await ds?.destroy(); });

const SETTING = prepared<{ v: string | null }>(`SELECT current_setting('meetflow.test_setting', true) AS v`);
const RATIO = prepared<{ x: number }>(`SELECT 10 / $1::int AS x`);

describe('a prepared statement', () => {
  it('runs on the transaction it is given, and stays prepared on that connection', async () => {
    await ds.transaction(async (m) => {
      await m.query(`SET LOCAL meetflow.test_setting = 'inside'`);
      expect(await SETTING(m, [])).toEqual([{ v: 'inside' }]);
      const [{ n }] = await m.query(`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE '%meetflow.test_setting%' AND NOT from_sql`);
      expect(n).toBe(1);
    });
  });

  it('answers rows outside a transaction, the same with every connection of the pool', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => RATIO(ds, [i % 5 + 1])));
    expect(answers.map(([r]) => r.x)).toEqual(Array.from({ length: 40 }, (_, i) => Math.floor(10 / (i % 5 + 1))));
  });

  it('fails as TypeORM fails, so that the API maps it the same way', async () => {
    const failure = await RATIO(ds, [0]).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(QueryFailedError);
    expect((failure as QueryFailedError).driverError).toMatchObject({ code: '22012' }); // division_by_zero
    expect(await ds.transaction((m) => RATIO(m, [0])).catch((err: unknown) => err)).toBeInstanceOf(QueryFailedError);
    expect(await RATIO(ds, [2])).toEqual([{ x: 5 }]); // the statement still serves
  });
});

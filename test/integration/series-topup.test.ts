import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { createActivities } from '../../src/activities/index.ts';
import { loadConfig } from '../../src/config.ts';
import { createDataSource } from '../../src/db/data-source.ts';
import { occurrenceSlug } from '../../src/domain/series.ts';
import { createRedis } from '../../src/redis.ts';
import { eventually } from '../helpers/stack.ts';
import { timeSkippingSuite } from '../helpers/stub-workers.ts';

// The real materialization activity against Postgres, with the workflow's timers on the
// time-skipping server: days pass in seconds, and `now` is the workflow's clock.
const DAY = 86_400_000;
const suite = timeSkippingSuite();
let ds: DataSource;
const config = loadConfig();
const redis = createRedis(config);
beforeAll(async () => { ds = await createDataSource(config).initialize(); });
afterAll(async () => { await ds?.destroy(); redis.disconnect(); });

async function seedSeries(): Promise<string> {
  const slug = `topup-${randomUUID().slice(0, 8)}`;
  const start = new Date(Date.now() + DAY);
  start.setUTCHours(18, 0, 0, 0);
  await ds.transaction(async (m) => {
    const [u] = await m.query(`INSERT INTO users (slug, display_name) VALUES ($1, 'owner') RETURNING id`, [slug]);
    await m.query(`INSERT INTO event_series (slug, name, rrule, dtstart, duration_minutes, time_zone, owner_id)
      VALUES ($1, 'Top-up', 'FREQ=DAILY', $2, 60, 'UTC', $3)`, [slug, start, u.id]);
    const [t] = await m.query(`INSERT INTO events (slug, name, start_at, end_at, time_zone, owner_id, series_slug, original_start)
      VALUES ($1, 'Top-up', $2, $2::timestamptz + interval '1 hour', 'UTC', $3, $4, $2) RETURNING id`,
    [occurrenceSlug(slug, start, 'UTC'), start, u.id, slug]);
    await m.query(`UPDATE event_series SET template_event_id = $2 WHERE slug = $1`, [slug, t.id]);
  });
  return slug;
}

const count = async (slug: string) => (await ds.query(`SELECT count(*)::int AS n FROM events WHERE series_slug = $1`, [slug]))[0].n as number;
const until = async (slug: string) => (await ds.query(`SELECT materialized_until FROM event_series WHERE slug = $1`, [slug]))[0].materialized_until as Date;

describe('series horizon top-up (time-skipping server, real activities and Postgres)', () => {
  it('moves the horizon forward as days pass, without cron or setTimeout', async () => {
    const { env } = suite;
    const slug = await seedSeries();
    await suite.withWorker(createActivities({ ds, redis, config, temporal: env.client, matrix: null }), async (taskQueue) => {
      const handle = await env.client.workflow.start('seriesWorkflow', {
        workflowId: `series:${slug}`, taskQueue, args: [{ seriesSlug: slug, horizonDays: 5, maxOccurrences: 100 }],
      });
      const progress = () => handle.query<{ runs: number; step: string }>('progress');
      await eventually(async () => { const p = await progress(); return p.runs >= 1 && p.step === 'waiting'; }, { intervalMs: 50 });
      const initial = await count(slug);
      const initialUntil = await until(slug);
      expect(initial).toBeGreaterThanOrEqual(4); // the template and the days up to five days ahead
      expect(initial).toBeLessThanOrEqual(6);

      await env.sleep('3 days');
      await eventually(async () => (await progress()).runs >= 4, { intervalMs: 50 });
      expect((await progress()).runs).toBe(4); // the first materialization and one top-up per day
      expect(await count(slug)).toBe(initial + 3);
      expect((await until(slug)).getTime() - initialUntil.getTime()).toBeGreaterThanOrEqual(3 * DAY - 60_000);
      await handle.terminate('test done');
    });
  });
});

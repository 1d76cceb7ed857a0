import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtpAgent } from '@atproto/api';
import type { TestNetworkNoAppView } from '@atproto/dev-env';
import type { DataSource } from 'typeorm';
import { createActivities } from '../../src/activities/index.ts';
import { sessionStore } from '../../src/bluesky/sessions.ts';
import { loadConfig } from '../../src/config.ts';
import { createDataSource } from '../../src/db/data-source.ts';
import { EVENT_COLLECTION } from '../../src/domain/lexicon.ts';
import { occurrenceSlug } from '../../src/domain/series.ts';
import { createRedis } from '../../src/redis.ts';
import { testNetwork } from '../helpers/pds.ts';
import { eventually } from '../helpers/stack.ts';
import { timeSkippingSuite } from '../helpers/stub-workers.ts';

// The real publishing activities against a local PDS and Postgres, with the workflow's timer on
// the time-skipping server: the next occurrence ends, and the series moves on to the following one.
const DAY = 86_400_000;
const suite = timeSkippingSuite();
const config = loadConfig();
const redis = createRedis(config);
let ds: DataSource;
let net: TestNetworkNoAppView;
let dana: AtpAgent;
beforeAll(async () => {
  ds = await createDataSource(config).initialize();
  net = await testNetwork();
  dana = new AtpAgent({ service: net.pds.url });
  await dana.createAccount({ handle: 'dana.test', email: 'dana@test.com', password: 'dana-pass' });
  await sessionStore(redis, config).save(net.pds.url, dana.session!);
}, 60_000);
afterAll(async () => { await ds?.destroy(); redis.disconnect(); await net?.close(); });

/**
 * A daily series of three one-hour occurrences owned by Dana (connected), the first one a day after
 * `now` (the test server's clock): they end 25, 49 and 73 hours from now whatever the time of day.
 */
async function seedSeries(now: number): Promise<{ slug: string; occurrences: string[]; starts: Date[] }> {
  const slug = `roll-${randomUUID().slice(0, 8)}`;
  const first = new Date(now + DAY);
  first.setUTCSeconds(0, 0);
  const starts = [0, 1, 2].map((i) => new Date(first.getTime() + i * DAY));
  await ds.transaction(async (m) => {
    const [u] = await m.query(
      `INSERT INTO users (slug, display_name, did, handle, provider, bluesky_connected) VALUES ($1, 'Dana', $2, 'dana.test', 'bluesky', true)
       ON CONFLICT (did) DO UPDATE SET bluesky_connected = true RETURNING id`, [slug, dana.session!.did]);
    await m.query(`INSERT INTO event_series (slug, name, rrule, dtstart, duration_minutes, time_zone, owner_id)
      VALUES ($1, 'Daily', 'FREQ=DAILY;COUNT=3', $2, 60, 'UTC', $3)`, [slug, first, u.id]);
    for (const start of starts) {
      await m.query(`INSERT INTO events (slug, name, start_at, end_at, time_zone, owner_id, series_slug, original_start)
        VALUES ($1, 'Daily', $2, $2::timestamptz + interval '1 hour', 'UTC', $3, $4, $2)`, [occurrenceSlug(slug, start, 'UTC'), start, u.id, slug]);
    }
    await m.query(`UPDATE event_series SET template_event_id = (SELECT id FROM events WHERE slug = $2) WHERE slug = $1`,
      [slug, occurrenceSlug(slug, first, 'UTC')]);
  });
  return { slug, occurrences: starts.map((d) => occurrenceSlug(slug, d, 'UTC')), starts };
}

const records = async (slugs: string[]) => (await ds.query(
  `SELECT slug, bluesky_uri FROM events WHERE slug = ANY($1) ORDER BY start_at`, [slugs])).map((r: { bluesky_uri: string | null }) => r.bluesky_uri);

describe('a published series rolls forward (time-skipping server, real PDS)', () => {
  it('publishes the next occurrence, then the following one after it ends', async () => {
    const { env } = suite;
    const { slug, occurrences, starts } = await seedSeries(await env.currentTimeMs());
    await suite.withWorker(createActivities({ ds, redis, config, temporal: env.client, matrix: null }), async (taskQueue) => {
      const handle = await env.client.workflow.start('blueskySeriesPublishWorkflow', {
        workflowId: `bsky-publish-series:${slug}`, taskQueue, args: [{ seriesSlug: slug }],
      });
      const rounds = (n: number) => eventually(async () => {
        const p = await handle.query<{ rounds: number; step: string }>('progress');
        return p.rounds >= n && p.step !== 'publishing';
      }, { intervalMs: 50 });
      await rounds(1);
      const [first, ...rest] = await records(occurrences);
      expect(first).toMatch(/^at:\/\//);
      expect(rest).toEqual([null, null]);

      await env.sleep(37 * 3_600_000); // past the first occurrence's end (25 h), well before the second's (49 h)
      await rounds(2);
      const after = await records(occurrences);
      expect(after[0]).toBe(first); // the past occurrence keeps its record (its RSVPs point at it)
      expect(after[1]).toMatch(/^at:\/\//);
      expect(after[2]).toBeNull();
      const onPds = await dana.com.atproto.repo.getRecord({ repo: dana.session!.did, collection: EVENT_COLLECTION, rkey: after[1]!.split('/').pop()! });
      expect(onPds.data.value).toMatchObject({ startsAt: starts[1].toISOString(), uris: expect.arrayContaining([{ uri: `${config.PUBLIC_BASE_URL}/series/${slug}`, name: 'series' }]) });
      await handle.terminate('test done');
    });
  });
});

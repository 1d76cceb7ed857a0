// Publishing events to a local PDS (@atproto/dev-env, in a process of its own: a PDS never runs in
// its clients' process, and here the publisher's writes landed on the event loop that timed the
// POSTs) through the API and the owner's `bsky-publisher:<user id>` (session from Redis, one commit
// per round, row update), against direct `createRecord` calls with one agent, in the same run.
// Records per second at a few concurrencies.
import { summarize } from './lib/summary.ts';
import { sessionStore } from '../src/bluesky/sessions.ts';
import { loadConfig } from '../src/config.ts';
import { createDataSource } from '../src/db/data-source.ts';
import { EVENT_COLLECTION } from '../src/domain/lexicon.ts';
import { createRedis } from '../src/redis.ts';
import { api, auth, createUsers, ok, runConcurrent } from './lib/client.ts';
import { startPds } from './lib/pds.ts';

const N = Number(process.env.BENCH_PUBLISH_N ?? 200);
const config = loadConfig();
const ds = await createDataSource(config).initialize();
const redis = createRedis(config);
const net = await startPds();
const [agent] = await net.accounts(1, 'bench-publish');
const did = agent.session!.did;

// A meetflow user connected to that account, the way a login leaves it.
const [owner] = await createUsers(1);
await ds.query(`UPDATE users SET did = $2, handle = 'bench-publish-0.test', provider = 'bluesky', bluesky_connected = true WHERE id = $1`, [owner.id, did]);
await sessionStore(redis, config).save(net.pds, agent.session!);

const record = (i: number) => ({
  $type: EVENT_COLLECTION, name: `direct ${i}`, createdAt: new Date().toISOString(),
  startsAt: '2030-01-01T18:00:00.000Z', endsAt: '2030-01-01T20:00:00.000Z',
});

async function viaWorkflows(n: number, concurrency: number) {
  const slugs: string[] = [];
  const started = performance.now();
  await runConcurrent(Array.from({ length: n }, (_, i) => async () => {
    const e = await ok(api.POST('/v1/events', { headers: auth(owner.token), body: {
      name: `bench ${i}`, startAt: '2030-01-01T18:00:00Z', endAt: '2030-01-01T20:00:00Z', timeZone: 'UTC',
    } }));
    slugs.push(e.slug);
  }), concurrency);
  for (;;) {
    const [{ n: done }] = await ds.query(`SELECT count(*)::int AS n FROM events WHERE slug = ANY($1) AND bluesky_cid IS NOT NULL`, [slugs]);
    if (done === n) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - started;
}

console.log(`${N} records per run; records/s (higher is better)`);
console.log(`${'concurrency'.padStart(11)} ${'direct createRecord'.padStart(20)} ${'API + workflow'.padStart(15)} ${'ratio'.padStart(6)}`);
await viaWorkflows(10, 4); // warm-up
for (const c of [1, 8, 32]) {
  const direct = await runConcurrent(Array.from({ length: N }, (_, i) => () =>
    agent.com.atproto.repo.createRecord({ repo: did, collection: EVENT_COLLECTION, record: record(i), validate: false })), c);
  const wfMs = await viaWorkflows(N, c);
  const directRate = N / (direct.wallMs / 1000);
  const wfRate = N / (wfMs / 1000);
  console.log(`${String(c).padStart(11)} ${directRate.toFixed(0).padStart(20)} ${wfRate.toFixed(0).padStart(15)} ${(directRate / wfRate).toFixed(1).padStart(5)}x`);
  summarize({ bench: 'bluesky-publish', measure: `records/s, concurrency ${c}`, meetflow: wfRate.toFixed(0), baseline: `${directRate.toFixed(0)} (direct createRecord)`,
    ratio: `${(directRate / wfRate).toFixed(1)}x the time`, target: '<= 1.5x' });
}
await ds.destroy();
redis.disconnect();
net.close();

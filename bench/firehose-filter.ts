// How fast the consumer gets through a relay's traffic, where almost nothing is a calendar record:
// a local PDS (@atproto/dev-env, a process of its own) carries COMMITS commits by 20 authors in the
// network's mix (likes, posts, follows, reposts, profile updates: app.bsky.*) with 2% calendar
// events and RSVPs. Commits/s from the start of that backlog until the consumer has handled its
// last commit (calendar records handed to the ingest lanes, the rest skipped), against
// @atproto/sync's own Firehose with an in-memory cursor and the same filter doing nothing with
// what it parses, in the same run. Then until the calendar rows are in Postgres.
import { Firehose, MemoryRunner } from '@atproto/sync';
import { Client, Connection } from '@temporalio/client';
import { summarize } from './lib/summary.ts';
import { startPds } from './lib/pds.ts';
import { loadConfig } from '../src/config.ts';
import { createDataSource } from '../src/db/data-source.ts';
import { EVENT_COLLECTION, RSVP_COLLECTION } from '../src/domain/lexicon.ts';
import { startFirehoseConsumer } from '../src/firehose/consumer.ts';
import { idResolver } from '../src/identity.ts';

const COMMITS = Number(process.env.BENCH_FILTER_COMMITS ?? 6000);
const AUTHORS = 20;
const net = await startPds();
const config = { ...loadConfig(), BLUESKY_PLC_URL: net.plc };
const ds = await createDataSource(config).initialize();
const temporal = new Client({ connection: await Connection.connect(config.TEMPORAL_CONNECTION), namespace: config.TEMPORAL_NAMESPACE });
const service = net.pds.replace(/^http/, 'ws');

const authors = await net.accounts(AUTHORS, 'bench-filter');
const dids = authors.map((a) => a.session!.did);
const now = () => new Date().toISOString();
const strongRef = { uri: `at://${dids[0]}/app.bsky.feed.post/3kabcdefghij2`, cid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm' };
// Roughly the network's mix of commits (calendar records are a sliver of it).
const mix: [number, string, (i: number) => Record<string, unknown>][] = [
  [45, 'app.bsky.feed.like', () => ({ subject: strongRef, createdAt: now() })],
  [25, 'app.bsky.feed.post', (i) => ({ text: `post ${i} with some words in it, as posts have`, langs: ['en'], createdAt: now() })],
  [15, 'app.bsky.graph.follow', (i) => ({ subject: dids[i % AUTHORS], createdAt: now() })],
  [8, 'app.bsky.feed.repost', () => ({ subject: strongRef, createdAt: now() })],
  [5, 'app.bsky.graph.block', (i) => ({ subject: dids[(i + 1) % AUTHORS], createdAt: now() })],
  [1.5, EVENT_COLLECTION, (i) => ({ name: `Meetup ${i}`, createdAt: now(), startsAt: '2030-01-01T18:00:00.000Z', endsAt: '2030-01-01T19:00:00.000Z' })],
  [0.5, RSVP_COLLECTION, () => ({ subject: strongRef, status: `${RSVP_COLLECTION}#going`, createdAt: now() })],
];
const pick = (i: number) => { let x = (i * 37) % 100; for (const m of mix) { if (x < m[0]) return m; x -= m[0]; } return mix[0]; };

// Each author writes its share in order; authors write side by side.
let calendar = 0;
await Promise.all(authors.map(async (agent, a) => {
  for (let i = a; i < COMMITS; i += AUTHORS) {
    const [, collection, record] = pick(i);
    if (collection === EVENT_COLLECTION) calendar++;
    await agent.com.atproto.repo.createRecord({ repo: agent.session!.did, collection, validate: false, record: { $type: collection, ...record(i) } });
  }
}));
const head = await net.readBacklog();

async function until(done: () => boolean | Promise<boolean>) { while (!(await done())) await new Promise((r) => setTimeout(r, 5)); }

// Bare: the library's firehose, same filter and checks, an in-memory cursor, nothing handled.
const memory = new MemoryRunner({ startCursor: 0 });
let t0 = performance.now();
const bare = new Firehose({
  idResolver: idResolver(config), service, runner: memory, filterCollections: [EVENT_COLLECTION, RSVP_COLLECTION],
  excludeIdentity: true, excludeAccount: true, excludeSync: true, handleEvent: async () => {}, onError: (err) => console.error(err.message),
});
void bare.start();
await until(() => (memory.getCursor() ?? 0) >= head);
const bareMs = performance.now() - t0;
await bare.destroy();

// meetflow's consumer from the start of the same backlog.
await ds.query(`INSERT INTO firehose_cursors (service, cursor) VALUES ($1, 0) ON CONFLICT (service) DO UPDATE SET cursor = 0`, [service]);
t0 = performance.now();
const consumer = await startFirehoseConsumer({ ds, temporal, config }, service);
await until(() => (consumer.stats.done() ?? 0) >= head);
const consumerMs = performance.now() - t0;
await until(async () => (await ds.query(`SELECT count(*)::int AS n FROM events WHERE source_did = ANY($1)`, [dids]))[0].n >= calendar);
const rowsMs = performance.now() - t0;
await consumer.stop();

const perSecond = (ms: number) => ((head / ms) * 1000).toFixed(0);
console.log(`${head} commits (${COMMITS} in the mix, ${calendar} calendar events; the rest account set-up), commits/s (higher is better)`);
console.log(`  @atproto/sync Firehose, in-memory cursor, nothing handled   ${perSecond(bareMs).padStart(7)}`);
console.log(`  meetflow consumer: every commit handled, cursor saved       ${perSecond(consumerMs).padStart(7)}   ${(consumerMs / bareMs).toFixed(2)}x the bare time`);
console.log(`  ... and the ${calendar} calendar events in Postgres          ${perSecond(rowsMs).padStart(7)}`);
console.log(`  (reading stopped at FIREHOSE_MAX_IN_FLIGHT ${consumer.stats.paused} times)`);
summarize({ bench: 'firehose-filter', measure: `commits/s, ${head} commits, 2% calendar`, meetflow: perSecond(consumerMs), baseline: `${perSecond(bareMs)} (@atproto/sync alone)`,
  ratio: `${((bareMs / consumerMs) * 100).toFixed(0)}% of bare`, target: '>= 3000/s' });
await temporal.connection.close();
await ds.destroy();
net.close();

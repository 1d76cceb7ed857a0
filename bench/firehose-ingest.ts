// Records ingested per second from a local PDS's firehose (@atproto/dev-env, a process of its own) end
// to end: consumer, batches handed to `bsky-ingest-lane:<n>`, the worker's step, rows in Postgres;
// against a bare consumer that only verifies and parses the same backlog, in the same run. Ten
// authors: the consumer keeps each author's records in order, so one author alone is sequential.
import { summarize } from './lib/summary.ts';
import { startPds } from './lib/pds.ts';
import { TID } from '@atproto/common-web';
import { Firehose, MemoryRunner } from '@atproto/sync';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../src/config.ts';
import { createDataSource } from '../src/db/data-source.ts';
import { opFromRecord } from '../src/domain/ingest.ts';
import { EVENT_COLLECTION, RSVP_COLLECTION } from '../src/domain/lexicon.ts';
import { startFirehoseConsumer } from '../src/firehose/consumer.ts';
import { idResolver } from '../src/identity.ts';

const N = Number(process.env.BENCH_INGEST_N ?? 1000);
const net = await startPds();
const config = { ...loadConfig(), BLUESKY_PLC_URL: net.plc };
const ds = await createDataSource(config).initialize();
const temporal = new Client({ connection: await Connection.connect(config.TEMPORAL_CONNECTION), namespace: config.TEMPORAL_NAMESPACE });
const service = net.pds.replace(/^http/, 'ws');

const AUTHORS = 10;
const authors = await net.accounts(AUTHORS, 'bench-ingest');
const dids = authors.map((a) => a.session!.did);
await Promise.all(authors.map(async (author, a) => {
  for (let i = a; i < N; i += AUTHORS) {
    await author.com.atproto.repo.putRecord({ repo: author.session!.did, collection: EVENT_COLLECTION, rkey: TID.nextStr(), validate: false, record: {
      $type: EVENT_COLLECTION, name: `Backlog ${i}`, createdAt: new Date().toISOString(), startsAt: '2030-01-01T18:00:00.000Z', endsAt: '2030-01-01T19:00:00.000Z',
    } });
  }
}));
const head = await net.readBacklog();
// The authors' keys in the DID cache both readers share: PLC lookups are not what is measured (and
// the library's reader drops a commit whose lookup fails, which left it waiting forever).
await Promise.all(dids.map((did) => idResolver(config).did.resolveAtprotoKey(did)));

// Bare: the same subscription and signature checks, records parsed, nothing stored.
let parsed = 0;
let t0 = performance.now();
const memory = new MemoryRunner({ startCursor: 0 });
const bare = new Firehose({
  idResolver: idResolver(config), service, runner: memory,
  filterCollections: [EVENT_COLLECTION, RSVP_COLLECTION], excludeIdentity: true, excludeAccount: true, excludeSync: true,
  handleEvent: async (evt) => {
    if (evt.event === 'create') { opFromRecord({ uri: evt.uri.toString(), collection: evt.collection, did: evt.did, cid: evt.cid.toString(), record: evt.record }); parsed++; }
  },
  onError: (err) => console.error(err.message, (err.cause as Error | undefined)?.message ?? ''),
});
void bare.start();
while (parsed < N && (memory.getCursor() ?? 0) < head) await new Promise((r) => setTimeout(r, 5));
const bareMs = performance.now() - t0;
await bare.destroy();
if (parsed < N) console.log(`  (the bare consumer dropped ${N - parsed} records on errors: its figure is not comparable)`);

// End to end, from the start of the same backlog.
await ds.query(`INSERT INTO firehose_cursors (service, cursor) VALUES ($1, 0) ON CONFLICT (service) DO UPDATE SET cursor = 0`, [service]);
t0 = performance.now();
const consumer = await startFirehoseConsumer({ ds, temporal, config }, service);
let handedOffMs = 0;
for (;;) {
  if (!handedOffMs && consumer.stats.handedOff >= N) handedOffMs = performance.now() - t0;
  const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM events WHERE source_did = ANY($1)`, [dids]);
  if (n >= N) break;
  await new Promise((r) => setTimeout(r, 20));
}
const fullMs = performance.now() - t0;
await consumer.stop();

const rate = (ms: number) => (N / (ms / 1000)).toFixed(0).padStart(8);
console.log(`${N} event records by ${AUTHORS} authors from the PDS firehose, records/s (higher is better)`);
console.log(`  bare consumer (verify + parse)           ${rate(bareMs)}`);
console.log(`  consumer hand-off (signal-with-start)    ${rate(handedOffMs)}`);
console.log(`  end to end (rows in Postgres)            ${rate(fullMs)}   ${(fullMs / bareMs).toFixed(1)}x the bare time`);
summarize({ bench: 'firehose-ingest', measure: `records/s end to end, ${N} records`, meetflow: rate(fullMs).trim(), baseline: `${rate(bareMs).trim()} (verify + parse)`,
  ratio: `${((bareMs / fullMs) * 100).toFixed(0)}% of bare`, target: '>= 500/s and >= 50% of bare' });
await temporal.connection.close();
await ds.destroy();
net.close();

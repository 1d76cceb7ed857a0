// Deleting an event with N attendees through `delete-event:<slug>` (API, tombstone, batches of
// 100,000 with heartbeats, row last) against one SQL transaction doing the same row deletions, for
// N = 1k, 10k, 100k, in the same run; medians of several runs of each, with the middle half's range
// (on 2 cores one deletion's time moves by ±10 ms from run to run: 7 samples left the median to chance).
import { summarize } from './lib/summary.ts';
import { loadConfig } from '../src/config.ts';
import { createDataSource } from '../src/db/data-source.ts';
import { api, auth, createEvent, createUsers, fmt, ok, percentile, settled } from './lib/client.ts';

const SIZES = (process.env.BENCH_DELETE_SIZES ?? '1000,10000,100000').split(',').map(Number);
/** One deletion is one sample: each size runs several times (fewer of 100k: each seeds 100k users). */
const RUNS = Number(process.env.BENCH_DELETE_RUNS ?? 15);
const RUNS_100K = Number(process.env.BENCH_DELETE_RUNS_100K ?? 5);
const ds = await createDataSource(loadConfig()).initialize();
const [owner] = await createUsers(1);

async function eventWithAttendees(n: number): Promise<{ slug: string; id: string }> {
  const slug = await createEvent(owner.token, null);
  await ds.query(
    `WITH u AS (INSERT INTO users (slug, display_name) SELECT 'bench-' || $1 || '-' || g, 'b' FROM generate_series(1, $2) g RETURNING id)
     INSERT INTO attendees (event_id, user_id, status) SELECT (SELECT id FROM events WHERE slug = $1), u.id, 'confirmed' FROM u`, [slug, n]);
  const [{ id }] = await ds.query(`SELECT id FROM events WHERE slug = $1`, [slug]);
  return { slug, id };
}

// Warm-up: the first workflow on a fresh worker pays for JIT and caches.
await ok(api.DELETE('/v1/events/{slug}', { params: { path: { slug: (await eventWithAttendees(10)).slug } }, headers: auth(owner.token) }));
await new Promise((r) => setTimeout(r, 1000));

console.log(`${'attendees'.padStart(9)} ${'one SQL transaction'.padStart(20)} ${'workflow'.padStart(12)} ${'ratio'.padStart(6)}   ${'workflow p25-p75'.padStart(18)}   (medians of ${RUNS} runs; 100k: ${RUNS_100K})`);
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
for (const n of SIZES) {
  const rawRuns: number[] = [];
  const wfRuns: number[] = [];
  for (let i = 0; i < (n >= 100_000 ? RUNS_100K : RUNS); i++) {
    const raw = await eventWithAttendees(n);
    let t0 = performance.now();
    await ds.transaction(async (m) => {
      await m.query(`DELETE FROM attendees WHERE event_id = $1`, [raw.id]);
      await m.query(`DELETE FROM chat_rooms WHERE event_id = $1`, [raw.id]);
      await m.query(`DELETE FROM events WHERE id = $1`, [raw.id]);
    });
    rawRuns.push(performance.now() - t0);

    const wf = await eventWithAttendees(n);
    t0 = performance.now();
    const op = await ok(api.DELETE('/v1/events/{slug}', { params: { path: { slug: wf.slug } }, headers: auth(owner.token) }));
    const done = op.status === 'running' ? await settled(op.id, owner.token) : op;
    if (done.status !== 'completed') throw new Error(`deletion ${done.status}`);
    wfRuns.push(performance.now() - t0);
  }
  const rawMs = percentile(sorted(rawRuns), 50);
  const wf = sorted(wfRuns);
  const wfMs = percentile(wf, 50);
  const spread = `${percentile(wf, 25).toFixed(1)}-${fmt(percentile(wf, 75))}`;
  console.log(`${String(n).padStart(9)} ${fmt(rawMs).padStart(20)} ${fmt(wfMs).padStart(12)} ${(wfMs / rawMs).toFixed(1).padStart(5)}x   ${spread.padStart(18)}`);
  summarize({ bench: 'event-deletion', measure: `ms to delete, ${n} attendees`, meetflow: fmt(wfMs), baseline: `${fmt(rawMs)} (one SQL transaction)`,
    ratio: `${(wfMs / rawMs).toFixed(1)}x the time, +${fmt(wfMs - rawMs)}`, target: n >= 100_000 ? '<= 2x' : 'overhead < 60 ms' });
}
await ds.destroy();

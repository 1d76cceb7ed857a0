// RSVPs per second at concurrency 1, 16 and 64, against one event (every request contends for
// the same row lock) and spread over 100 events, with p50/p99. Baseline, same run and
// concurrency: reading an event with its computed counts.
import { summarize } from './lib/summary.ts';
import { api, auth, createEvent, createUsers, fmt, ok, percentile, rsvp, runConcurrent } from './lib/client.ts';

const PER_SCENARIO = Number(process.env.BENCH_RSVPS ?? 640);
const users = await createUsers(PER_SCENARIO);
const owner = users[0];

console.log(`${'scenario'.padEnd(34)} ${'conc'.padStart(4)} ${'req/s'.padStart(8)} ${'p50'.padStart(10)} ${'p99'.padStart(10)}`);
for (const concurrency of [1, 16, 64]) {
  const n = concurrency === 1 ? Math.min(200, PER_SCENARIO) : PER_SCENARIO;
  const one = await createEvent(owner.token, Math.floor(n / 2));
  const hundred = await Promise.all(Array.from({ length: 100 }, () => createEvent(owner.token, Math.max(1, Math.floor(n / 200)))));
  const scenarios: [string, (i: number) => Promise<unknown>][] = [
    ['baseline: GET event with counts', (i) => ok(api.GET('/v1/events/{slug}', { params: { path: { slug: one } }, headers: auth(users[i].token) }))],
    ['RSVP going, one event', (i) => rsvp(one, users[i].token)],
    ['RSVP going, 100 events', (i) => rsvp(hundred[i % 100], users[i].token)],
  ];
  const results: Record<string, Awaited<ReturnType<typeof runConcurrent>>> = {};
  for (const [name, request] of scenarios) {
    const r = results[name] = await runConcurrent(Array.from({ length: n }, (_, i) => () => request(i)), concurrency);
    console.log(`${name.padEnd(34)} ${String(concurrency).padStart(4)} ${r.perSecond.toFixed(0).padStart(8)} ${fmt(percentile(r.latencies, 50)).padStart(10)} ${fmt(percentile(r.latencies, 99)).padStart(10)}`);
  }
  const get = results['baseline: GET event with counts'];
  const line = (name: string, target: string) => {
    const r = results[name];
    summarize({ bench: 'rsvp-throughput', measure: `${name}, conc ${concurrency}: req/s, p99`, meetflow: `${r.perSecond.toFixed(0)}, ${fmt(percentile(r.latencies, 99))}`,
      baseline: `${get.perSecond.toFixed(0)}, ${fmt(percentile(get.latencies, 99))} (GET)`, ratio: `${((r.perSecond / get.perSecond) * 100).toFixed(0)}% of GET rate`, target });
  };
  if (concurrency === 16) line('RSVP going, one event', '>= 300 req/s');
  if (concurrency === 64) line('RSVP going, 100 events', 'p99 < 50 ms, >= 80% of GET');
}

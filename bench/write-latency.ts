// API write latency (p50/p99) of a change that sets a follow-up in motion (a capacity raised while
// people wait wakes `waitlist:<slug>`: recorded in the outbox with the change, delivered to Temporal
// after the commit) against the same PATCH without one (a new description), same run and
// concurrency; then how long follow-ups waited between commit and delivery (the API's lag histogram).
import { summarize } from './lib/summary.ts';
import { createEvent, createUsers, fmt, patchEvent, percentile, rsvp, runConcurrent } from './lib/client.ts';

const N = Number(process.env.BENCH_WRITES ?? 300);
const EVENTS = 50;
const [owner] = await createUsers(1);
const events = await Promise.all(Array.from({ length: EVENTS }, () => createEvent(owner.token, 1)));
// Each raise is by one seat, and someone still waits for it: one confirmed person per event and
// one waiting for each raise the event gets (promoted meanwhile by its waitlist run).
const raisesPerEvent = Math.ceil((2 * N) / EVENTS);
const capacity = events.map(() => 1);
for (const person of await createUsers(1 + raisesPerEvent)) {
  await runConcurrent(events.map((slug) => () => rsvp(slug, person.token)), 8);
}

console.log(`${'scenario'.padEnd(44)} ${'conc'.padStart(4)} ${'req/s'.padStart(8)} ${'p50'.padStart(10)} ${'p99'.padStart(10)}`);
for (const concurrency of [1, 16]) {
  const scenarios: [string, (i: number) => Promise<unknown>][] = [
    ['baseline: PATCH description (no follow-up)', (i) => patchEvent(events[i % EVENTS], owner.token, { description: `d${i}` })],
    ['PATCH capacity raised (waitlist follow-up)', (i) => patchEvent(events[i % EVENTS], owner.token, { capacity: ++capacity[i % EVENTS] })],
  ];
  const p99s: number[] = [];
  for (const [name, request] of scenarios) {
    const r = await runConcurrent(Array.from({ length: N }, (_, i) => () => request(i)), concurrency);
    p99s.push(percentile(r.latencies, 99));
    console.log(`${name.padEnd(44)} ${String(concurrency).padStart(4)} ${r.perSecond.toFixed(0).padStart(8)} ${fmt(percentile(r.latencies, 50)).padStart(10)} ${fmt(percentile(r.latencies, 99)).padStart(10)}`);
  }
  summarize({ bench: 'write-latency', measure: `PATCH with a follow-up, conc ${concurrency}: p99`, meetflow: fmt(p99s[1]), baseline: `${fmt(p99s[0])} (PATCH, no follow-up)`,
    ratio: `${(p99s[1] / p99s[0]).toFixed(1)}x`, target: '-' });
}

// Delivery lag from the API's own histogram (commit -> handed to Temporal).
const metrics = await (await fetch(`${process.env.API_URL}/metrics`)).text();
const series = [...metrics.matchAll(/^meetflow_follow_up_delivery_lag_seconds_(bucket\{[^}]*le="([^"]+)"[^}]*\}|sum\{[^}]*\}|count\{[^}]*\}) ([0-9.e+-]+)$/gm)];
if (series.length === 0) {
  console.log('delivery lag: not reported by this API (no meetflow_follow_up_delivery_lag_seconds)');
} else {
  const sum = series.filter((m) => m[1].startsWith('sum')).reduce((a, m) => a + Number(m[3]), 0);
  const count = series.filter((m) => m[1].startsWith('count')).reduce((a, m) => a + Number(m[3]), 0);
  const buckets = new Map<string, number>();
  for (const m of series.filter((x) => x[2])) buckets.set(m[2], (buckets.get(m[2]) ?? 0) + Number(m[3]));
  const at = (q: number) => [...buckets].find(([, n]) => n >= q * count)?.[0] ?? '+Inf';
  console.log(`delivery lag: ${count} follow-ups, mean ${fmt((sum / count) * 1000)}, p50 <= ${at(0.5)} s, p99 <= ${at(0.99)} s`);
}

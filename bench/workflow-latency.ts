// Latency of an operation that goes through Temporal, measured through the API over loopback:
// a cancellation starts `waitlist:<slug>`, which promotes the next person; timed until the API
// shows the promotion. Baseline, same run: an RSVP that starts no workflow.
import { summarize } from './lib/summary.ts';
import { api, auth, createEvent, createUsers, fmt, ok, percentile, rsvp } from './lib/client.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 300);
const [owner, first, second] = await createUsers(3);

async function sleep(ms: number) { await new Promise((r) => setTimeout(r, ms)); }

const baseline: number[] = [];
const viaWorkflow: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const slug = await createEvent(owner.token, 1);
  await rsvp(slug, first.token);

  let t0 = performance.now();
  await rsvp(slug, second.token); // waitlisted, no workflow
  baseline.push(performance.now() - t0);

  t0 = performance.now();
  await ok(api.DELETE('/v1/events/{slug}/attendees/me', { params: { path: { slug } }, headers: auth(first.token) })); // starts the workflow
  for (;;) {
    const e = await ok(api.GET('/v1/events/{slug}', { params: { path: { slug } }, headers: auth(owner.token) }));
    if (e.attendeeCounts.confirmed === 1) break;
    await sleep(2);
  }
  viaWorkflow.push(performance.now() - t0);
}

for (const [name, xs] of [['baseline: RSVP, no workflow', baseline], ['cancel -> waitlist workflow -> promotion visible', viaWorkflow]] as const) {
  xs.sort((a, b) => a - b);
  console.log(`${name.padEnd(50)} n=${xs.length}  p50 ${fmt(percentile(xs, 50))}  p95 ${fmt(percentile(xs, 95))}  p99 ${fmt(percentile(xs, 99))}  max ${fmt(xs[xs.length - 1])}`);
}
summarize({ bench: 'workflow-latency', measure: 'cancel -> promotion visible: p50, p99', meetflow: `${fmt(percentile(viaWorkflow, 50))}, ${fmt(percentile(viaWorkflow, 99))}`,
  baseline: `${fmt(percentile(baseline, 50))}, ${fmt(percentile(baseline, 99))} (RSVP, no workflow)`,
  ratio: `+${fmt(percentile(viaWorkflow, 50) - percentile(baseline, 50))} at p50`, target: 'p50 < 30 ms, p99 < 100 ms' });
console.log(`workflow overhead at p50: ${fmt(percentile(viaWorkflow, 50) - percentile(baseline, 50))}`);

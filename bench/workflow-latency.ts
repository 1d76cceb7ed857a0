// Latency until a promotion from the waitlist is visible through the API, over loopback:
// - a cancellation, whose transaction gives the seat to the next person (src/domain/rsvp.ts);
// - a raised capacity, which wakes `waitlist:<slug>` to promote (the workflow path).
// Baseline, same run: an RSVP that starts no workflow.
import { summarize } from './lib/summary.ts';
import { api, auth, createEvent, createUsers, fmt, getEvent, ok, patchEvent, percentile, rsvp } from './lib/client.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 300);
const [owner, first, second] = await createUsers(3);

async function sleep(ms: number) { await new Promise((r) => setTimeout(r, ms)); }

/** Milliseconds from the start of `change` until the API shows `confirmed` confirmed people. */
async function untilConfirmed(slug: string, confirmed: number, change: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await change();
  for (;;) {
    const e = await getEvent(slug, owner.token);
    if (e.attendeeCounts.confirmed === confirmed) return performance.now() - t0;
    await sleep(2);
  }
}

const baseline: number[] = [];
const onCancel: number[] = [];
const viaWorkflow: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const slug = await createEvent(owner.token, 1);
  await rsvp(slug, first.token);

  const t0 = performance.now();
  await rsvp(slug, second.token); // waitlisted, no workflow
  baseline.push(performance.now() - t0);

  if (i % 2 === 0) {
    onCancel.push(await untilConfirmed(slug, 1, () =>
      ok(api.DELETE('/v1/events/{slug}/attendees/me', { params: { path: { slug } }, headers: auth(first.token) }))));
  } else {
    viaWorkflow.push(await untilConfirmed(slug, 2, () => patchEvent(slug, owner.token, { capacity: 2 })));
  }
}

const rows: [string, number[]][] = [
  ['baseline: RSVP, no workflow', baseline],
  ['cancel -> promotion visible', onCancel],
  ['capacity raised -> waitlist workflow -> promotion', viaWorkflow],
];
for (const [name, xs] of rows) {
  xs.sort((a, b) => a - b);
  console.log(`${name.padEnd(50)} n=${xs.length}  p50 ${fmt(percentile(xs, 50))}  p95 ${fmt(percentile(xs, 95))}  p99 ${fmt(percentile(xs, 99))}  max ${fmt(xs[xs.length - 1])}`);
}
const p50p99 = (xs: number[]) => `${fmt(percentile(xs, 50))}, ${fmt(percentile(xs, 99))}`;
summarize({ bench: 'workflow-latency', measure: 'cancel -> promotion visible: p50, p99', meetflow: p50p99(onCancel),
  baseline: `${p50p99(baseline)} (RSVP, no workflow)`,
  ratio: `+${fmt(percentile(onCancel, 50) - percentile(baseline, 50))} at p50`, target: 'p50 < 30 ms, p99 < 100 ms' });
summarize({ bench: 'workflow-latency', measure: 'capacity raised -> waitlist workflow -> promotion visible: p50, p99', meetflow: p50p99(viaWorkflow),
  baseline: `${p50p99(baseline)} (RSVP, no workflow)`,
  ratio: `+${fmt(percentile(viaWorkflow, 50) - percentile(baseline, 50))} at p50`, target: '(the workflow path, for reference)' });

// Materializing a series through the API and `series:<slug>` (one year of a daily series, ten
// years of a weekly one) against computing the same dates alone, in the same run.
import { summarize } from './lib/summary.ts';
import { randomUUID } from 'node:crypto';
import { mintToken } from '../src/api/auth.ts';
import { loadConfig } from '../src/config.ts';
import { occurrences } from '../src/domain/recurrence.ts';
import { api, auth, createUsers, fmt, ok } from './lib/client.ts';

const [owner] = await createUsers(1);
const admin = await mintToken(loadConfig(), { sub: randomUUID(), role: 'admin' });
const start = new Date(Date.now() + 86_400_000);
start.setUTCHours(18, 0, 0, 0);

for (const [name, rrule, count] of [['1 year daily', 'FREQ=DAILY;COUNT=365', 365], ['10 years weekly', 'FREQ=WEEKLY;COUNT=522', 522]] as const) {
  let t0 = performance.now();
  const dates = occurrences({ rrule, dtstart: start, timeZone: 'Europe/Berlin' }, { from: start, to: new Date(start.getTime() + 11 * 365 * 86_400_000), limit: 5000 });
  const computeMs = performance.now() - t0;

  t0 = performance.now();
  const series = await ok(api.POST('/v1/series', { headers: auth(owner.token), body: {
    name, rrule, startAt: start.toISOString(), endAt: new Date(start.getTime() + 3_600_000).toISOString(), timeZone: 'Europe/Berlin',
  } }));
  let result: { created: number } | null = null;
  while (!result) {
    const op = await ok(api.GET('/v1/operations/{id}', { params: { path: { id: `series:${series.slug}` } }, headers: auth(admin) }));
    if (op.status === 'completed') result = op.result as { created: number };
    else await new Promise((r) => setTimeout(r, 20));
  }
  const workflowMs = performance.now() - t0;
  console.log(`${name.padEnd(16)} ${String(dates.length).padStart(4)} dates: compute alone ${fmt(computeMs).padStart(9)}   ` +
    `API + workflow + insert of ${result.created + 1} events ${fmt(workflowMs).padStart(9)}   (${(workflowMs / computeMs).toFixed(0)}x)`);
  summarize({ bench: 'series-materialization', measure: `ms for ${name}`, meetflow: fmt(workflowMs), baseline: `${fmt(computeMs)} (dates computed alone)`,
    ratio: `${(workflowMs / computeMs).toFixed(0)}x`, target: '-' });
  if (dates.length !== count || result.created + 1 !== count) throw new Error(`expected ${count} occurrences`);
}

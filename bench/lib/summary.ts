// The one table `npm run bench` prints at the end: each benchmark adds its headline rows here
// (a JSON line each, in the file scripts/bench.sh names), next to its own detailed output.
import { appendFileSync } from 'node:fs';

export interface SummaryRow {
  bench: string;
  /** What was measured, with its unit. */
  measure: string;
  meetflow: string;
  /** The in-run baseline it is compared against. */
  baseline: string;
  /** meetflow against the baseline, as the issue states it ("1.4x the time", "92% of bare"). */
  ratio: string;
  target: string;
}

export function summarize(row: SummaryRow): void {
  const file = process.env.BENCH_SUMMARY;
  if (file) appendFileSync(file, `${JSON.stringify(row)}\n`);
}

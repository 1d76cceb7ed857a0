// Prints the rows the benchmarks wrote (bench/lib/summary.ts) as one table.
import { readFileSync } from 'node:fs';
import type { SummaryRow } from '../bench/lib/summary.ts';

const rows: SummaryRow[] = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const columns = ['bench', 'measure', 'meetflow', 'baseline', 'ratio', 'target'] as const;
const width = Object.fromEntries(columns.map((c) => [c, Math.max(c.length, ...rows.map((r) => r[c].length))]));
const line = (cells: Record<string, string>) => `| ${columns.map((c) => cells[c].padEnd(width[c])).join(' | ')} |`;
console.log(`\n== summary (${rows.length} rows)`);
console.log(line(Object.fromEntries(columns.map((c) => [c, c]))));
console.log(`|${columns.map((c) => '-'.repeat(width[c] + 2)).join('|')}|`);
for (const r of rows) console.log(line(r as unknown as Record<string, string>));

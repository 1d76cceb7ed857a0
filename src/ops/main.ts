// `npm run ops -- <command>`: what an operator does without SQL. Each command prints text, or JSON
// with --json; a failure exits 1 with the reason (2 for a usage error).
//   dead-letters [--source S] [--limit N] [--before ID]   list, newest first
//   dead-letters retry ID                                  hand the record to its workflow again
//   cursor                                                 every firehose cursor
//   cursor set SEQ --service URL                           move one (stop the consumer first)
//   operations [--type T] [--entity kind:slug] [--status S] [--limit N] [--cursor C]
//   operations describe ID                                 status, progress, result or error
//   invariants                                             the structural checks (exit 1 if any breaks)
import { parseArgs } from 'node:util';
import { operationReader, type ListQuery } from '../api/operation-reader.ts';
import { loadConfig } from '../config.ts';
import { createDataSource } from '../db/data-source.ts';
import { deadLetters } from '../db/dead-letters.ts';
import { cursors, moveCursor } from '../db/firehose-cursors.ts';
import { findViolations, INVARIANTS } from '../db/invariants.ts';
import { createTemporalClient } from '../temporal/client.ts';
import { retryDeadLetter } from './retry-dead-letter.ts';

const { values: opts, positionals: [command, sub, arg] } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: 'boolean', default: false }, source: { type: 'string' }, limit: { type: 'string' }, before: { type: 'string' },
    service: { type: 'string' }, type: { type: 'string' }, entity: { type: 'string' }, status: { type: 'string' }, cursor: { type: 'string' },
  },
});

function usage(message: string): never {
  console.error(`${message}\nusage: npm run ops -- dead-letters [retry ID] | cursor [set SEQ --service URL] | operations [describe ID] | invariants  [--json]`);
  process.exit(2);
}
const limit = opts.limit === undefined ? 20 : Number(opts.limit);
if (!Number.isInteger(limit) || limit < 1 || limit > 1000) usage('--limit is 1 to 1000');

const config = loadConfig();
const ds = await createDataSource(config).initialize();
const temporal = createTemporalClient(config);
/** Prints `data` as JSON, or as the lines `text` makes of it. */
const show = <T>(data: T, text: (d: T) => string) => console.log(opts.json ? JSON.stringify(data, null, 2) : text(data));

try {
  // Every Temporal call of the command has a deadline, as an API request's has: a Temporal that
  // accepts connections and never answers would hold the operator's terminal for good.
  await temporal.connection.withDeadline(Date.now() + config.TEMPORAL_REQUEST_TIMEOUT_MS, async () => {
    if (command === 'dead-letters' && sub === 'retry') {
      if (!arg || !/^\d{1,19}$/.test(arg)) usage('dead-letters retry needs the id');
      show(await retryDeadLetter({ ds, temporal, config }, arg), (r) => `dead letter ${r.id}: ${r.outcome}${'operation' in r ? ` as ${r.operation}` : ` (${r.reason})`}`);
    } else if (command === 'dead-letters') {
      if (sub) usage(`unknown: dead-letters ${sub}`);
      if (opts.before && !/^\d{1,19}$/.test(opts.before)) usage('--before is an id');
      const rows = await deadLetters(ds, { source: opts.source, before: opts.before, limit });
      show(rows, (r) => r.map((d) => `${d.id}\t${d.created_at.toISOString()}\t${d.source}\t${d.uri ?? '-'}\t${d.reason}`).join('\n') || 'no dead letters');
    } else if (command === 'cursor' && sub === 'set') {
      const seq = Number(arg);
      if (!Number.isSafeInteger(seq) || seq < 0) usage('cursor set needs a sequence number');
      if (!opts.service) usage('cursor set needs --service (the relay or PDS URL)');
      await moveCursor(ds, opts.service, seq);
      show({ service: opts.service, cursor: seq }, (c) => `cursor of ${c.service} set to ${c.cursor}; the consumer resumes after it`);
    } else if (command === 'cursor') {
      if (sub) usage(`unknown: cursor ${sub}`);
      show(await cursors(ds), (r) => r.map((c) => `${c.service}\t${c.cursor}\t${c.updated_at.toISOString()}`).join('\n') || 'no cursor saved yet');
    } else if (command === 'operations' && sub === 'describe') {
      if (!arg) usage('operations describe needs the id');
      show(await operationReader({ ds, temporal, config }).describe(arg), (o) =>
        [`${o.id}\t${o.status}\t${o.entity.kind}:${o.entity.slug}`, `progress: ${JSON.stringify(o.progress)}`,
          `result: ${JSON.stringify(o.result)}`, `error: ${JSON.stringify(o.error)}`, o.links.temporalUi].join('\n'));
    } else if (command === 'operations') {
      if (sub) usage(`unknown: operations ${sub}`);
      const q: ListQuery = { type: opts.type, entity: opts.entity, status: opts.status as ListQuery['status'], limit, cursor: opts.cursor };
      show(await operationReader({ ds, temporal, config }).list(q), (page) =>
        [...page.items.map((o) => `${o.id}\t${o.status}\t${o.startedAt}`), page.nextCursor ? `next: --cursor ${page.nextCursor}` : ''].filter(Boolean).join('\n') || 'no operations');
    } else if (command === 'invariants') {
      const violations = await findViolations(ds);
      show({ checks: Object.keys(INVARIANTS).length, violations }, (r) => Object.keys(r.violations).length
        ? `invariant violations: ${JSON.stringify(r.violations, null, 2)}` : `invariants hold: ${r.checks} checks, none broken`);
      if (Object.keys(violations).length) process.exitCode = 1;
    } else {
      usage(command ? `unknown command ${command}` : 'a command is needed');
    }
  });
} catch (err) {
  // The SDK wraps the transport's error ("Failed to describe workflow"): the reason is in its causes.
  const reasons: string[] = [];
  for (let e = err as Error | undefined; e && reasons.length < 5; e = e.cause as Error | undefined) reasons.push(e.message);
  const reason = reasons.join(': ');
  console.error(opts.json ? JSON.stringify({ error: reason }) : `ops: ${reason}`);
  process.exitCode = 1;
} finally {
  await ds.destroy();
  await temporal.connection.close().catch(() => undefined);
}

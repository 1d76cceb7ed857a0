import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TID } from '@atproto/common-web';
import { EVENT_COLLECTION } from '../../src/domain/lexicon.ts';
import { doorFor } from '../helpers/door.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';

// `npm run ops`: the operator's CLI, as a process against the test services and a worker.
let s: Stack;
// The DIDs here are made up: identity lookups go to a closed port and fail at once (a shadow account by DID).
beforeAll(async () => {
  s = await startStack({ BLUESKY_PLC_URL: 'http://127.0.0.1:9' });
  await s.startWorker();
}, 120_000);
afterAll(async () => { await s?.close(); });

/** Runs the CLI with the test services, or with `env` overriding them; killed after 2 min (a hang fails). */
const opsWith = (env: Record<string, string>, ...args: string[]) => {
  const r = spawnSync(process.execPath, ['src/ops/main.ts', ...args], {
    encoding: 'utf8', env: { ...process.env, TEMPORAL_TASK_QUEUE: s.config.TEMPORAL_TASK_QUEUE, ...env }, timeout: 120_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr, json: () => JSON.parse(r.stdout) };
};
const ops = (...args: string[]) => opsWith({}, ...args);
const letter = async (fields: { source: string; uri: string | null; collection: string | null; payload: unknown; reason: string }) =>
  String((await s.ds.query(
    `INSERT INTO ingestion_dead_letters (source, uri, collection, reason, payload) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
    [fields.source, fields.uri, fields.collection, fields.reason, fields.payload === null ? null : JSON.stringify(fields.payload)]))[0].id);

describe('the operator CLI', () => {
  it('lists dead letters and retries one: a record that parses now is handed to its workflow and ingested', { timeout: 120_000 }, async () => {
    const did = `did:plc:ops${randomUUID().replace(/-/g, '').slice(0, 21)}`;
    const uri = `at://${did}/${EVENT_COLLECTION}/${TID.nextStr()}`;
    const record = { $type: EVENT_COLLECTION, name: 'Retried from the dead letters', createdAt: new Date().toISOString(), startsAt: '2027-04-01T18:00:00.000Z' };
    const good = await letter({ source: 'firehose', uri, collection: EVENT_COLLECTION, payload: record, reason: 'a parser bug since fixed' });
    const bad = await letter({ source: 'firehose', uri: `at://${did}/${EVENT_COLLECTION}/${TID.nextStr()}`, collection: EVENT_COLLECTION, payload: { name: 42 }, reason: 'malformed' });
    const commit = await letter({ source: 'firehose', uri: null, collection: null, payload: null, reason: 'unverifiable commit' });

    const listed = ops('dead-letters', '--source', 'firehose', '--limit', '1000', '--json');
    expect(listed.status, listed.err).toBe(0);
    expect(listed.json().map((d: { id: string }) => d.id)).toEqual(expect.arrayContaining([good, bad, commit]));
    expect(ops('dead-letters', '--limit', '1000').out).toContain('a parser bug since fixed');

    const retried = ops('dead-letters', 'retry', good, '--json');
    expect(retried.status, retried.err).toBe(0);
    expect(retried.json()).toEqual({ id: good, outcome: 'handed-off', operation: `bsky-ingest:${uri}` });
    await eventually(async () => (await s.ds.query(`SELECT 1 FROM events WHERE source_id = $1`, [uri])).length === 1, { timeoutMs: 60_000 })
      .catch(async (err) => { throw new Error(`${err.message}; ${JSON.stringify(await s.whereIs(`bsky-ingest:${uri}`))}`); });
    expect(await s.ds.query(`SELECT 1 FROM ingestion_dead_letters WHERE id = $1`, [good])).toEqual([]);

    const still = ops('dead-letters', 'retry', bad, '--json').json();
    expect(still).toMatchObject({ id: bad, outcome: 'still-failing' });
    expect((await s.ds.query(`SELECT reason FROM ingestion_dead_letters WHERE id = $1`, [bad]))[0].reason).toBe(still.reason);
    expect(ops('dead-letters', 'retry', commit, '--json').json()).toMatchObject({ id: commit, outcome: 'not-retryable' });
    const missing = ops('dead-letters', 'retry', '999999999999', '--json');
    expect(missing.status).toBe(1);
    expect(missing.err).toMatch(/not found/);

    // The operation the retry started, through the CLI as well.
    const page = ops('operations', '--type', 'bsky-ingest', '--limit', '100', '--json');
    expect(page.status, page.err).toBe(0);
    expect(page.json().items.map((o: { id: string }) => o.id)).toContain(`bsky-ingest:${uri}`);
    const described = ops('operations', 'describe', `bsky-ingest:${uri}`, '--json');
    expect(described.json()).toMatchObject({ id: `bsky-ingest:${uri}`, type: 'bsky-ingest', entity: { kind: 'record', slug: uri } });
  });

  it('shows and moves the firehose cursor', () => {
    const service = `ws://127.0.0.1:1/${randomUUID()}`;
    const set = ops('cursor', 'set', '1234', '--service', service, '--json');
    expect(set.status, set.err).toBe(0);
    expect(set.json()).toEqual({ service, cursor: 1234 });
    expect(ops('cursor', '--json').json()).toContainEqual(expect.objectContaining({ service, cursor: '1234' }));
    expect(ops('cursor', 'set', '12', '--service', service).out).toMatch(/set to 12/); // back as well
  });

  it('gives up on a Temporal that accepts connections and never answers: exit 1 with the reason', { timeout: 300_000 }, async () => {
    const temporal = await doorFor('TEMPORAL_ADDRESS');
    temporal.door.stall();
    try {
      const kept = await letter({
        source: 'firehose', uri: `at://did:plc:opsstalled/${EVENT_COLLECTION}/${TID.nextStr()}`, collection: EVENT_COLLECTION,
        payload: { $type: EVENT_COLLECTION, name: 'Not handed off yet', createdAt: new Date().toISOString(), startsAt: '2027-04-01T18:00:00.000Z' }, reason: 'x',
      });
      // Without a deadline on the command's Temporal calls, each of these ran until it was killed.
      for (const args of [['operations', 'describe', 'delete-event:nowhere'], ['dead-letters', 'retry', kept]]) {
        const r = opsWith(temporal.env, ...args);
        expect([r.status, r.err], args.join(' ')).toEqual([1, expect.stringMatching(/deadline/i)]);
      }
      expect(await s.ds.query(`SELECT 1 FROM ingestion_dead_letters WHERE id = $1`, [kept])).toHaveLength(1); // not lost
    } finally {
      await temporal.door.shut();
    }
  });

  it('runs the invariant checks, and refuses what it does not understand with a usage error', () => {
    const checked = ops('invariants', '--json');
    const report = checked.json();
    expect(report.checks).toBeGreaterThan(5);
    expect(checked.status).toBe(Object.keys(report.violations).length ? 1 : 0);
    for (const wrong of [['nonsense'], ['cursor', 'set', 'x', '--service', 'ws://a'], ['dead-letters', '--limit', '0']]) {
      expect(ops(...wrong).status, wrong.join(' ')).toBe(2);
    }
  });
});

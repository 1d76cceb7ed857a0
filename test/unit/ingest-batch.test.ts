import { describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import { batchActivities } from '../../src/activities/ingest/batch.ts';
import type { applyActivities, IngestDeps } from '../../src/activities/ingest/apply.ts';
import type { ExternalEvent, ExternalRsvp, IngestOp, LaneOp } from '../../src/domain/ingest.ts';
import { loadConfig } from '../../src/config.ts';

// The batch step alone, with its table (ingest_forwarded) and Temporal faked: what it applies,
// what it hands to a record's own workflow, and that later changes of a handed-off record follow it.
function harness(apply: Partial<ReturnType<typeof applyActivities>>) {
  const marked = new Set<string>();
  const handedOff: { workflowId: string; op: IngestOp }[] = [];
  const ds = {
    query: async (sql: string, params: unknown[]) => {
      if (sql.startsWith('SELECT uri FROM ingest_forwarded')) return (params[0] as string[]).filter((u) => marked.has(u)).map((uri) => ({ uri }));
      if (sql.startsWith('INSERT INTO ingest_forwarded')) { marked.add(params[0] as string); return []; }
      if (sql.startsWith('DELETE FROM ingest_forwarded')) return [];
      if (sql.startsWith('SELECT d.did FROM unnest')) return []; // every author known (new authors: firehose-author-host.test.ts)
      if (sql.startsWith('SELECT count(*)::int AS n FROM (SELECT 1 FROM ingest_forwarded')) return [{ n: 0 }]; // nobody over the bound (firehose-author-host.test.ts)
      throw new Error(`unexpected SQL: ${sql}`);
    },
  } as unknown as DataSource;
  const temporal = {
    workflow: {
      signalWithStart: async (_type: string, o: { workflowId: string; signalArgs: [IngestOp] }) => {
        handedOff.push({ workflowId: o.workflowId, op: o.signalArgs[0] });
        return { workflowId: o.workflowId };
      },
    },
  } as unknown as Client;
  const deps = { ds, temporal, config: loadConfig({ ...process.env, AUTH_JWT_SECRET: 'unit-test-secret-unit-test-secret' }) } as unknown as IngestDeps;
  // Several events in one call, as the real statement: each as if alone, and one failure fails them all.
  const together: number[] = [];
  const ingestEvents = async (es: ExternalEvent[]) => {
    together.push(es.length);
    const results = [];
    for (const e of es) results.push(await apply.ingestEvent!(e));
    return results;
  };
  const { applyIngestBatch } = batchActivities(deps, { ...apply, ingestEvents } as ReturnType<typeof applyActivities>);
  // Failures here are deliberate: the SDK's line about each stays out of the output.
  const quiet = new DefaultLogger('ERROR');
  return { marked, handedOff, together, run: (ops: LaneOp[], attempt = 1) => new MockActivityEnvironment({ attempt }, { logger: quiet }).run(applyIngestBatch, ops) };
}

const uri = (n: number, kind = 'event') => `at://did:plc:a/community.lexicon.calendar.${kind}/${n}`;
const event = (n: number, cid = 'c1'): LaneOp => ({ uri: uri(n), op: { kind: 'event', event: { sourceId: uri(n), sourceCid: cid, name: `e${n}`, creator: { did: 'did:plc:a', handle: null } } as ExternalEvent } });

describe('a firehose lane\'s batch step', () => {
  it('applies changes in order; a deletion goes to its record\'s workflow, and that record\'s later changes follow it there', async () => {
    const applied: string[] = [];
    const h = harness({ ingestEvent: async (e) => { applied.push(`${e.name}@${e.sourceCid}`); return { state: 'created', slug: e.name }; } });
    const result = await h.run([event(1), event(2), { uri: uri(1), op: { kind: 'event-delete', sourceId: uri(1) } }, event(1, 'c2'), event(2, 'c2')]);
    expect(applied).toEqual(['e1@c1', 'e2@c1', 'e2@c2']); // e1's re-creation waits behind its deletion
    expect(h.handedOff.map((x) => [x.workflowId, x.op.kind])).toEqual([[`bsky-ingest:${uri(1)}`, 'event-delete'], [`bsky-ingest:${uri(1)}`, 'event']]);
    expect([...h.marked]).toEqual([uri(1)]);
    expect(result).toEqual({ applied: 3, unchanged: 0, skipped: 0, forwarded: 2 });
    expect(h.together).toEqual([2]); // e1 and e2 at first, in one statement
  });

  it('applies the event changes of distinct records together; a record\'s second change starts the next group', async () => {
    const applied: string[] = [];
    const h = harness({ ingestEvent: async (e) => { applied.push(`${e.name}@${e.sourceCid}`); return { state: 'created', slug: e.name }; } });
    const result = await h.run([event(1), event(2), event(3), event(1, 'c2'), event(4), event(2, 'c2')]);
    expect(h.together).toEqual([3, 3]);
    expect(applied).toEqual(['e1@c1', 'e2@c1', 'e3@c1', 'e1@c2', 'e4@c1', 'e2@c2']);
    expect(result).toMatchObject({ applied: 6, forwarded: 0 });
  });

  it('hands a parked RSVP to its own workflow (which waits for the event)', async () => {
    const rsvp: LaneOp = { uri: uri(9, 'rsvp'), op: { kind: 'rsvp', rsvp: { sourceId: uri(9, 'rsvp'), userDid: 'did:plc:a' } as ExternalRsvp } };
    const h = harness({ ingestRsvp: async () => ({ state: 'parked', reason: 'event has not arrived' }) });
    expect(await h.run([rsvp])).toMatchObject({ forwarded: 1 });
    expect(h.handedOff[0].workflowId).toBe(`bsky-ingest:${uri(9, 'rsvp')}`);
  });

  it('retries the whole batch on a failure; from the third attempt a change that still fails goes to its own workflow and the batch goes on', async () => {
    const h = harness({
      ingestEvent: async (e) => { if (e.name === 'e2') throw new Error('value too long for type'); return { state: 'unchanged', slug: e.name }; },
    });
    // The group fails as a whole, then each change is tried alone with the batch's attempts.
    await expect(h.run([event(1), event(2), event(3)], 1)).rejects.toThrow('value too long');
    expect(h.handedOff).toEqual([]);
    expect(await h.run([event(1), event(2), event(3)], 3)).toEqual({ applied: 0, unchanged: 2, skipped: 0, forwarded: 1 });
    expect(h.handedOff.map((x) => x.workflowId)).toEqual([`bsky-ingest:${uri(2)}`]);
  });
});

import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ExternalEvent, ExternalRsvp, IngestOp } from '../../src/domain/ingest.ts';
import { SIGNALS } from '../../src/temporal/contracts.ts';
import { timeSkippingSuite } from '../helpers/stub-workers.ts';

const suite = timeSkippingSuite();
const uri = 'at://did:plc:abc/community.lexicon.calendar.event/1';
const event = (name: string) => ({ sourceType: 'bluesky', sourceId: uri, sourceCid: name, creator: { did: 'did:plc:abc' }, name } as ExternalEvent);
const rsvp = { sourceId: 'at://did:plc:def/community.lexicon.calendar.rsvp/1', eventSourceId: uri, userDid: 'did:plc:def', status: 'going' } as ExternalRsvp;

describe('ingestWorkflow', () => {
  it('applies signalled changes once each, in order, retrying a failing activity', async () => {
    const applied: string[] = [];
    let failures = 0;
    await suite.withWorker({
      ingestEvent: async (e) => {
        if (e.name === 'v2' && failures++ < 2) throw new Error('connection reset');
        applied.push(e.name);
        return { state: 'updated', slug: 's' };
      },
      findIngestedEvent: async () => null,
    }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.signalWithStart('ingestWorkflow', {
        workflowId: `bsky-ingest:${randomUUID()}`, taskQueue, args: [{ uri, idleTimeout: '1 minute' }],
        signal: SIGNALS.ingest, signalArgs: [{ kind: 'event', event: event('v1') } satisfies IngestOp],
      });
      await handle.signal(SIGNALS.ingest, { kind: 'event', event: event('v2') } satisfies IngestOp);
      await handle.signal(SIGNALS.ingest, { kind: 'event', event: event('v3') } satisfies IngestOp);
      await handle.signal(SIGNALS.ingest, { kind: 'event-delete', sourceId: uri } satisfies IngestOp);
      expect(await handle.result()).toMatchObject({ step: 'done', applied: 4, last: { state: 'deleted', slug: null } });
    });
    expect(applied).toEqual(['v1', 'v2', 'v3']);
    expect(failures).toBe(3);
  });

  it('parks an RSVP on a durable timer until its event arrives, and dead-letters it after parkForMs', async () => {
    let tries = 0;
    const dead: string[] = [];
    await suite.withWorker({
      ingestRsvp: async () => (++tries < 4 ? { state: 'parked', reason: 'no event yet' } : { state: 'created', slug: 'e' }),
      deadLetter: async (d) => { dead.push(d.reason); },
    }, async (taskQueue) => {
      const arrives = await suite.env.client.workflow.signalWithStart('ingestWorkflow', {
        workflowId: `bsky-ingest:${randomUUID()}`, taskQueue, args: [{ uri: rsvp.sourceId, idleTimeout: '1 minute' }],
        signal: SIGNALS.ingest, signalArgs: [{ kind: 'rsvp', rsvp } satisfies IngestOp],
      });
      expect(await arrives.result()).toMatchObject({ applied: 1, last: { state: 'created' } });
      expect(tries).toBe(4);

      tries = -100; // parked for good
      const never = await suite.env.client.workflow.signalWithStart('ingestWorkflow', {
        workflowId: `bsky-ingest:${randomUUID()}`, taskQueue, args: [{ uri: rsvp.sourceId, idleTimeout: '1 minute', parkForMs: 10 * 60_000 }],
        signal: SIGNALS.ingest, signalArgs: [{ kind: 'rsvp', rsvp } satisfies IngestOp],
      });
      expect(await never.result()).toMatchObject({ applied: 1, last: { state: 'parked' } });
    });
    expect(dead).toEqual(['no event yet']);
  });
});

describe('blueskySyncWorkflow', () => {
  it('pages through both collections (events first), retries a failing page, then publishes what is missing', async () => {
    const calls: string[] = [];
    let failed = false;
    await suite.withWorker({
      syncRecordsPage: async ({ collection, cursor }) => {
        if (!failed && cursor === 'p2') { failed = true; throw new Error('PDS timeout'); }
        calls.push(`${collection.split('.').pop()}:${cursor}`);
        const next = collection.endsWith('event') && cursor === null ? 'p2' : null;
        return { cursor: next, uris: [`at://x/${collection}/${cursor}`], applied: { created: 2 } };
      },
      publishMissing: async ({ listed }) => ({ events: listed.length, series: 0, rsvps: 0 }),
    }, async (taskQueue) => {
      const result = await suite.env.client.workflow.execute('blueskySyncWorkflow', {
        workflowId: `bsky-sync:${randomUUID()}`, taskQueue, args: [{ did: 'did:plc:abc' }],
      });
      expect(result).toEqual({ step: 'done', pages: 3, fromPds: { created: 6 }, toPds: { events: 3, series: 0, rsvps: 0 } });
    });
    expect(calls).toEqual(['event:null', 'event:p2', 'rsvp:null']);
  });

  it('a PDS that hands out a next cursor without end is listed 50 pages a collection, then the pass goes on (truncated)', async () => {
    let listed = 0;
    await suite.withWorker({
      syncRecordsPage: async ({ collection, cursor }) => ({ cursor: `${Number(cursor ?? 0) + 1}`, uris: [`at://x/${collection}/${cursor}`], applied: { parked: 1 } }),
      publishMissing: async ({ listed: uris }) => { listed = uris.length; return { events: 0, series: 0, rsvps: 0 }; },
    }, async (taskQueue) => {
      const result = await suite.env.client.workflow.execute('blueskySyncWorkflow', {
        workflowId: `bsky-sync:${randomUUID()}`, taskQueue, args: [{ did: 'did:plc:abc' }],
      });
      expect(result).toEqual({ step: 'done', pages: 100, fromPds: { parked: 100, truncated: 2 }, toPds: { events: 0, series: 0, rsvps: 0 } });
    });
    expect(listed).toBe(100);
  });

  it('stops listing once the URIs it holds pass a million characters (they are publishMissing\'s input)', async () => {
    await suite.withWorker({
      syncRecordsPage: async ({ collection, cursor }) => ({ cursor: `${Number(cursor ?? 0) + 1}`, uris: [`at://x/${collection}/${'k'.repeat(100_000)}`], applied: {} }),
      publishMissing: async () => ({ events: 0, series: 0, rsvps: 0 }),
    }, async (taskQueue) => {
      const result = await suite.env.client.workflow.execute('blueskySyncWorkflow', {
        workflowId: `bsky-sync:${randomUUID()}`, taskQueue, args: [{ did: 'did:plc:abc' }],
      });
      // 10 pages of events reach the bound; the RSVPs' first page is read, then listing stops.
      expect(result).toMatchObject({ step: 'done', pages: 11, fromPds: { truncated: 2 } });
    });
  });

  it('a request that arrives during a pass gets one more pass after it; requests during one pass coalesce', async () => {
    const workflowId = `bsky-sync:${randomUUID()}`;
    let passes = 0;
    await suite.withWorker({
      syncRecordsPage: async () => ({ cursor: null, uris: [], applied: {} }),
      publishMissing: async () => {
        // Two requests (say a preference turned on, then a claim) while the first pass publishes.
        if (++passes === 1) for (let i = 0; i < 2; i++) await suite.env.client.workflow.getHandle(workflowId).signal(SIGNALS.syncRequested);
        return { events: 1, series: 0, rsvps: 0 };
      },
    }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.signalWithStart('blueskySyncWorkflow', {
        workflowId, taskQueue, args: [{ did: 'did:plc:abc' }], signal: SIGNALS.syncRequested,
      });
      expect(await handle.result()).toEqual({ step: 'done', pages: 4, fromPds: {}, toPds: { events: 2, series: 0, rsvps: 0 } });
    });
    expect(passes).toBe(2);
  });
});

describe('ingestLaneWorkflow', () => {
  it('applies its batch in one step, retried whole after a failure (a retried batch applies nothing twice: same CIDs)', async () => {
    const attempts: number[] = [];
    const ops = [{ uri, op: { kind: 'event', event: event('v1') } }, { uri, op: { kind: 'event-delete', sourceId: uri } }] satisfies { uri: string; op: IngestOp }[];
    await suite.withWorker({
      applyIngestBatch: async (batch) => {
        attempts.push(batch.length);
        if (attempts.length < 3) throw new Error('Postgres restarting');
        return { applied: 1, unchanged: 0, skipped: 0, forwarded: 1 };
      },
    }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start('ingestLaneWorkflow', {
        workflowId: `bsky-ingest-lane:${randomUUID()}`, taskQueue, args: [{ ops }],
      });
      expect(await handle.result()).toEqual({ step: 'done', ops: 2, result: { applied: 1, unchanged: 0, skipped: 0, forwarded: 1 } });
    });
    expect(attempts).toEqual([2, 2, 2]);
  });
});

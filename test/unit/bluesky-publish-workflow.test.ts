import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { SIGNALS } from '../../src/temporal/contracts.ts';
import { timeSkippingSuite } from '../helpers/stub-workers.ts';
import { FAILURE } from '../../src/temporal/failures.ts';

const suite = timeSkippingSuite();
const { EventType } = temporal.api.enums.v1;

describe('a revoked session', () => {
  const revoked = async () => { throw ApplicationFailure.create({ type: FAILURE.blueskySessionRevoked, message: 'revoked', nonRetryable: true }); };
  it.each([
    { workflow: 'blueskyPublisherWorkflow', id: 'bsky-publisher', activity: 'publishEventRecords', input: { userId: 'u' }, signal: SIGNALS.publishEvent, signalArgs: ['e'] },
    { workflow: 'blueskyPublishWorkflow', id: 'bsky-publish', activity: 'publishEventRecord', input: { eventSlug: 'e' }, signal: SIGNALS.publish, signalArgs: [] },
  ])('is not retried by $workflow', async ({ workflow, id, activity, input, signal, signalArgs }) => {
    let calls = 0;
    await suite.withWorker({ [activity]: () => { calls++; return revoked(); } }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.signalWithStart(workflow, {
        workflowId: `${id}:${randomUUID()}`, taskQueue, args: [input], signal, signalArgs,
      });
      const err = await handle.result().catch((e) => e);
      expect(err.cause.type).toBe(FAILURE.blueskySessionRevoked); // the first, local try's failure (a local activity's is not wrapped)
    });
    expect(calls).toBe(1);
  });
});

describe('blueskyPublisherWorkflow', () => {
  it('writes the events named so far in rounds of up to 25, retries a failed round as an activity, and writes an event named again during its round once more', async () => {
    const workflowId = `bsky-publisher:${randomUUID()}`;
    const calls: string[][] = [];
    await suite.withWorker({
      publishEventRecords: async (slugs: string[]) => {
        calls.push(slugs);
        if (calls.length === 1) {
          // 29 more events, and the first one changed again, while its round runs.
          const handle = suite.env.client.workflow.getHandle(workflowId);
          for (const slug of [...Array.from({ length: 29 }, (_, i) => `e${i + 1}`), 'e0']) await handle.signal(SIGNALS.publishEvent, slug);
          throw new Error('connect ECONNREFUSED');
        }
        return { published: slugs, skipped: [], gone: [], refused: [] };
      },
    }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.signalWithStart('blueskyPublisherWorkflow', {
        workflowId, taskQueue, args: [{ userId: 'u', idleTimeout: '10 minutes' }], signal: SIGNALS.publishEvent, signalArgs: ['e0'],
      });
      expect(await handle.result()).toMatchObject({ step: 'done', rounds: 3, published: 31, waiting: 0 });
      const events = (await handle.fetchHistory()).events ?? [];
      expect(events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toHaveLength(1); // only the failed try
    });
    expect(calls[0]).toEqual(['e0']);
    expect(calls[1]).toEqual(['e0']); // the same round, retried
    expect(calls[2]).toEqual(Array.from({ length: 25 }, (_, i) => `e${i + 1}`));
    expect(calls[3]).toEqual(['e26', 'e27', 'e28', 'e29', 'e0']); // e0 again: changed after its round read it
    expect(calls).toHaveLength(4);
  });

});

describe('blueskyPublishWorkflow (runs started before bsky-publisher)', () => {
  it('tries each write once locally, retries a PDS that fails or a record that changed underneath as an activity, and publishes once per burst of changes', async () => {
    let calls = 0;
    await suite.withWorker({
      publishEventRecord: async () => {
        calls++;
        if (calls === 1) throw new Error('connect ECONNREFUSED');
        if (calls === 2) throw ApplicationFailure.create({ type: FAILURE.blueskyRecordChanged, message: 'changed while writing' });
        return { state: 'published', uri: 'at://did:plc:x/community.lexicon.calendar.event/3k', cid: `cid${calls}` };
      },
    }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.signalWithStart('blueskyPublishWorkflow', {
        workflowId: `bsky-publish:${randomUUID()}`, taskQueue, args: [{ eventSlug: 'e', idleTimeout: '10 minutes' }], signal: SIGNALS.publish,
      });
      await suite.env.sleep('1 minute');
      await handle.signal(SIGNALS.publish);
      expect(await handle.result()).toMatchObject({ step: 'done', rounds: 2, last: { state: 'published', cid: 'cid4' } });
      // Each round's first try is local (a marker); only the failed one went on as an activity task.
      const events = (await handle.fetchHistory()).events ?? [];
      expect(events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toHaveLength(1);
      expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toHaveLength(2);
    });
    expect(calls).toBe(4);
  });

  it('still fails on a revoked session when a change is signalled during the local try', async () => {
    const workflowId = `bsky-publish:${randomUUID()}`;
    let calls = 0;
    await suite.withWorker({
      publishEventRecord: async () => {
        calls++;
        if (calls > 1) return { state: 'skipped', reason: 'owner has no Bluesky connection' }; // what a rerun finds
        await suite.env.client.workflow.getHandle(workflowId).signal(SIGNALS.publish); // lands while the task runs
        throw ApplicationFailure.create({ type: FAILURE.blueskySessionRevoked, message: 'revoked', nonRetryable: true });
      },
    }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.signalWithStart('blueskyPublishWorkflow', {
        workflowId, taskQueue, args: [{ eventSlug: 'e', idleTimeout: '10 minutes' }], signal: SIGNALS.publish,
      });
      const err = await handle.result().catch((e) => e);
      expect(err?.cause?.type).toBe(FAILURE.blueskySessionRevoked);
    });
    expect(calls).toBe(1); // the local try was not run again
  });
});

describe('blueskySeriesPublishWorkflow', () => {
  it('retries a failing round, sleeps until the occurrence ends, wakes early on a change, and stops when the series is gone', async () => {
    const asOf: string[] = [];
    let calls = 0;
    await suite.withWorker({
      publishSeriesNext: async (input) => {
        calls++;
        if (calls === 1) throw new Error('connect ECONNREFUSED');
        asOf.push(input.asOf);
        if (asOf.length === 4) return { state: 'gone', published: [], nextEndsAt: null };
        const endsAt = new Date(Date.parse(input.asOf) + 24 * 3_600_000).toISOString();
        return { state: 'published', published: [`occ-${asOf.length}`], nextEndsAt: endsAt };
      },
    }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.start('blueskySeriesPublishWorkflow', {
        workflowId: `bsky-publish-series:${randomUUID()}`, taskQueue, args: [{ seriesSlug: 's' }],
      });
      await suite.env.sleep('1 hour');
      await handle.signal(SIGNALS.publish); // a change: republish now, not tomorrow
      expect(await handle.result()).toMatchObject({ step: 'done', rounds: 4, last: { state: 'gone' } });
    });
    const gaps = asOf.slice(1).map((t, i) => (Date.parse(t) - Date.parse(asOf[i])) / 3_600_000);
    expect(gaps[0]).toBeLessThan(2); // woken by the signal
    expect(gaps[1]).toBeGreaterThanOrEqual(24); // then the timer: the occurrence's end
    expect(gaps[1]).toBeLessThan(25);
  });
});

describe('blueskyRsvpWorkflow', () => {
  it('retries a failing write and ends once the event is gone', async () => {
    let calls = 0;
    await suite.withWorker({
      publishRsvpRecord: async () => {
        calls++;
        if (calls === 1) throw new Error('connect ECONNREFUSED');
        return calls === 2 ? { state: 'published', uri: 'at://did:plc:y/community.lexicon.calendar.rsvp/ab', cid: 'c', status: 'confirmed' } : { state: 'gone' };
      },
    }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.signalWithStart('blueskyRsvpWorkflow', {
        workflowId: `bsky-rsvp:${randomUUID()}`, taskQueue, args: [{ eventSlug: 'e', userId: 'u' }], signal: SIGNALS.publish,
      });
      await suite.env.sleep('1 minute');
      await handle.signal(SIGNALS.publish);
      expect(await handle.result()).toMatchObject({ step: 'done', rounds: 2, last: { state: 'gone' } });
    });
    expect(calls).toBe(3);
  });
});

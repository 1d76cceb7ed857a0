import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { SIGNALS } from '../../src/temporal/operations.ts';
import { timeSkippingSuite } from '../helpers/stub-workers.ts';

const suite = timeSkippingSuite();

describe('blueskyPublishWorkflow', () => {
  it('retries a PDS that fails or a record that changed underneath, and publishes once per burst of changes', async () => {
    let calls = 0;
    await suite.withWorker({
      publishEventRecord: async () => {
        calls++;
        if (calls === 1) throw new Error('connect ECONNREFUSED');
        if (calls === 2) throw ApplicationFailure.create({ type: 'BlueskyRecordChanged', message: 'changed while writing' });
        return { state: 'published', uri: 'at://did:plc:x/community.lexicon.calendar.event/3k', cid: `cid${calls}` };
      },
    }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.signalWithStart('blueskyPublishWorkflow', {
        workflowId: `bsky-publish:${randomUUID()}`, taskQueue, args: [{ eventSlug: 'e', idleTimeout: '10 minutes' }], signal: SIGNALS.publish,
      });
      await suite.env.sleep('1 minute');
      await handle.signal(SIGNALS.publish);
      expect(await handle.result()).toMatchObject({ step: 'done', rounds: 2, last: { state: 'published', cid: 'cid4' } });
    });
    expect(calls).toBe(4);
  });

  it('does not retry a revoked session', async () => {
    let calls = 0;
    await suite.withWorker({
      publishEventRecord: async () => {
        calls++;
        throw ApplicationFailure.create({ type: 'BlueskySessionRevoked', message: 'revoked', nonRetryable: true });
      },
    }, async (taskQueue) => {
      const handle = await suite.env.client.workflow.signalWithStart('blueskyPublishWorkflow', {
        workflowId: `bsky-publish:${randomUUID()}`, taskQueue, args: [{ eventSlug: 'e' }], signal: SIGNALS.publish,
      });
      const err = await handle.result().catch((e) => e);
      expect(err.cause.cause.type).toBe('BlueskySessionRevoked');
    });
    expect(calls).toBe(1);
  });
});

import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { timeSkippingSuite } from '../helpers/stub-workers.ts';
import { FAILURE } from '../../src/temporal/failures.ts';

const suite = timeSkippingSuite();
const run = (taskQueue: string) => suite.env.client.workflow.execute('blueskyUnpublishWorkflow', {
  workflowId: `bsky-unpublish:${randomUUID()}`, taskQueue, args: [{ did: 'did:plc:unpublish' }],
});

describe('blueskyUnpublishWorkflow', () => {
  it('deletes batch after batch through a failing PDS, then forgets the session, once', async () => {
    let calls = 0;
    const forgotten: string[] = [];
    await suite.withWorker({
      unpublishRecords: async ({ limit }) => {
        calls++;
        if (calls === 2) throw new Error('PDS unavailable'); // retried
        return calls < 4 ? { deleted: limit, done: false } : { deleted: 3, done: true };
      },
      forgetBlueskySession: async (did) => { forgotten.push(did); return { revoked: true }; },
    }, async (taskQueue) => {
      expect(await run(taskQueue)).toEqual({ step: 'done', deleted: 50 + 50 + 3, revoked: true });
    });
    expect(calls).toBe(4);
    expect(forgotten).toEqual(['did:plc:unpublish']);
  });

  it('fails with BlueskySessionRevoked at once when the user revoked meetflow: it can no longer write there', async () => {
    let calls = 0;
    await suite.withWorker({
      unpublishRecords: async () => { calls++; throw ApplicationFailure.create({ type: FAILURE.blueskySessionRevoked, message: 'revoked', nonRetryable: true }); },
      forgetBlueskySession: async () => { throw new Error('not reached'); },
    }, async (taskQueue) => {
      await expect(run(taskQueue)).rejects.toThrow(/failed/i);
    });
    expect(calls).toBe(1);
  });
});

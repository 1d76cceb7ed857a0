import { defineQuery, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { PROGRESS_QUERY, type OperationInput } from '../temporal/contracts.ts';
import { FAILURE } from '../temporal/failures.ts';

const act = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: [FAILURE.blueskySessionRevoked] },
});

export interface UnpublishProgress { step: 'deleting records' | 'forgetting the session' | 'done'; deleted: number; revoked: boolean | null }

const BATCH = 50;

/**
 * `bsky-unpublish:<did>`: a disconnecting user asked for meetflow's records in their repo to go.
 * Their connection is already off (nothing publishes meanwhile); the records are deleted a batch
 * at a time, then the session is revoked and forgotten. A session the user revoked themselves
 * fails it with `BlueskySessionRevoked`: meetflow can no longer write there.
 */
export async function blueskyUnpublishWorkflow(input: OperationInput<'bsky-unpublish'>): Promise<UnpublishProgress> {
  const progress: UnpublishProgress = { step: 'deleting records', deleted: 0, revoked: null };
  setHandler(defineQuery<UnpublishProgress>(PROGRESS_QUERY), () => progress);
  for (;;) {
    const batch = await act.unpublishRecords({ did: input.did, limit: BATCH });
    progress.deleted += batch.deleted;
    if (batch.done) break;
  }
  progress.step = 'forgetting the session';
  progress.revoked = (await act.forgetBlueskySession(input.did)).revoked;
  progress.step = 'done';
  return progress;
}

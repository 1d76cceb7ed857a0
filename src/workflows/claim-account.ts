import { ApplicationFailure, CancellationScope, defineQuery, proxyActivities, rootCause, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { PROGRESS_QUERY, type OperationInput } from '../temporal/contracts.ts';
import { FAILURE } from '../temporal/failures.ts';

const steps = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  // A worker that dies mid-step is noticed within seconds (the step heartbeats while it runs).
  heartbeatTimeout: '5 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 8, nonRetryableErrorTypes: [FAILURE.claimStepRejected] },
});
const finish = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' }, // past the point of no return: until done
});

export interface ClaimProgress {
  step: 'transferring ownership' | 'moving RSVPs' | 'moving group memberships' | 'merging profile' | 'compensating'
    | 'removing the shadow account' | 'updating chat rooms, waitlists, starting the sync' | 'done';
  counts: Record<string, number>;
}

/**
 * `claim-account:<did>`: everything of the shadow account with this DID becomes the user's, and
 * the shadow account goes. Each step is an idempotent activity that journals what it changed; a
 * step that fails for good (or runs out of retries) has every earlier change undone from the
 * journal and the claim fails with `AccountClaimFailed`, both accounts as they were. Deleting the
 * shadow account is the point of no return, retried until done.
 */
export async function claimAccountWorkflow(input: OperationInput<'claim-account'>): Promise<ClaimProgress> {
  const progress: ClaimProgress = { step: 'transferring ownership', counts: {} };
  setHandler(defineQuery<ClaimProgress>(PROGRESS_QUERY), () => progress);
  let freedSeats: string[] = [];
  try {
    await steps.claimOwnership(input);
    progress.step = 'moving RSVPs';
    freedSeats = await steps.claimAttendees(input);
    progress.step = 'moving group memberships';
    await steps.claimMemberships(input);
    progress.step = 'merging profile';
    await steps.claimProfile(input);
  } catch (err) {
    progress.step = 'compensating';
    await CancellationScope.nonCancellable(() => finish.compensateClaim(input));
    throw ApplicationFailure.create({
      type: FAILURE.accountClaimFailed, nonRetryable: true, cause: err as Error,
      message: `claim of ${input.did} was undone, both accounts are as they were: ${rootCause(err)}`,
    });
  }
  await CancellationScope.nonCancellable(async () => {
    progress.step = 'removing the shadow account';
    const done = await finish.finishClaim(input);
    progress.counts = done.counts;
    progress.step = 'updating chat rooms, waitlists, starting the sync';
    await finish.afterClaim({ did: input.did, rooms: done.rooms, freedSeats });
  });
  progress.step = 'done';
  return progress;
}

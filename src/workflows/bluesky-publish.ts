import { continueAsNew, defineQuery, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { PublishResult } from '../activities/bluesky/index.ts';
import { PROGRESS_QUERY, SIGNALS } from '../temporal/operations.ts';
import { signalledRounds } from './rounds.ts';

export const publishSignal = defineSignal(SIGNALS.publish);
export interface PublishProgress { step: 'waiting' | 'publishing' | 'done'; rounds: number; last: PublishResult | null }

const { publishEventRecord } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: ['BlueskySessionRevoked'] },
  summary: 'write the event record to the owner\'s PDS',
});

/**
 * `bsky-publish:<event slug>`: the only writer of an event's record, so writes for one event never
 * collide (no locks). Each signal (create, update, on demand) is one publish round against the
 * current row; a revoked session fails the workflow with `BlueskySessionRevoked`.
 */
export async function blueskyPublishWorkflow(input: { eventSlug: string; idleTimeout?: string; pending?: boolean }): Promise<PublishProgress> {
  const progress: PublishProgress = { step: 'waiting', rounds: 0, last: null };
  setHandler(defineQuery<PublishProgress>(PROGRESS_QUERY), () => progress);
  await signalledRounds({
    signal: publishSignal,
    idleTimeout: input.idleTimeout ?? '1 hour',
    pendingAtStart: input.pending,
    round: async () => {
      progress.step = 'publishing';
      progress.last = await publishEventRecord(input.eventSlug);
      progress.rounds++;
      progress.step = 'waiting';
      return progress.last.state === 'gone' ? 'stop' : 'continue';
    },
    continueAsNew: (pending) => continueAsNew<typeof blueskyPublishWorkflow>({ ...input, pending }),
  });
  progress.step = 'done';
  return progress;
}

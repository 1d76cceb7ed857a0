import {
  allHandlersFinished, condition, continueAsNew, defineQuery, defineSignal, proxyActivities,
  setHandler, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { PROGRESS_QUERY, SIGNALS } from '../temporal/operations.ts';

/** Sent whenever seats may have been freed (a cancellation, a raised capacity). */
export const seatsChangedSignal = defineSignal(SIGNALS.seatsChanged);

export interface WaitlistProgress { step: 'waiting' | 'promoting' | 'done'; rounds: number; promoted: number }
export const progressQuery = defineQuery<WaitlistProgress>(PROGRESS_QUERY);

export interface WaitlistInput {
  eventSlug: string;
  /** How long the workflow waits for the next change before it completes. */
  idleTimeout?: string;
  /** Carried across continue-as-new. */
  promoted?: number;
  rounds?: number;
  /** A change arrived while the previous run was continuing as new. */
  pending?: boolean;
}

const { promoteWaitlist } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
  summary: 'promote waitlisted attendees into free seats',
});

/**
 * `waitlist:<event slug>`: one per event, so promotions for an event run one at a time and in
 * order. Started (or signalled) with signal-with-start on every change; each signal causes one
 * promotion round; it completes after `idleTimeout` without changes.
 */
export async function waitlistWorkflow(input: WaitlistInput): Promise<{ promoted: number; rounds: number }> {
  const progress: WaitlistProgress = { step: 'waiting', rounds: input.rounds ?? 0, promoted: input.promoted ?? 0 };
  let pending = input.pending ? 1 : 0;
  setHandler(seatsChangedSignal, () => { pending++; });
  setHandler(progressQuery, () => progress);

  for (;;) {
    if (!(await condition(() => pending > 0, input.idleTimeout ?? '1 hour'))) break;
    pending = 0; // one round covers every change signalled so far
    progress.step = 'promoting';
    const { eventGone, promotedUserIds } = await promoteWaitlist(input.eventSlug);
    progress.rounds++;
    progress.promoted += promotedUserIds.length;
    progress.step = 'waiting';
    if (eventGone) break;
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof waitlistWorkflow>({
        ...input, promoted: progress.promoted, rounds: progress.rounds, pending: pending > 0,
      });
    }
  }
  progress.step = 'done';
  await condition(allHandlersFinished);
  return { promoted: progress.promoted, rounds: progress.rounds };
}

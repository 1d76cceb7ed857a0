import { continueAsNew, defineQuery, defineSignal, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { PROGRESS_QUERY, SIGNALS, type OperationInput, type SignalArgs } from '../temporal/contracts.ts';
import { dbSteps } from './local-steps.ts';
import { signalledRounds } from './rounds.ts';

/** Sent whenever seats may have been freed (a cancellation, a raised capacity). */
export const seatsChangedSignal = defineSignal<SignalArgs['seatsChanged']>(SIGNALS.seatsChanged);

export interface WaitlistProgress { step: 'waiting' | 'promoting' | 'done'; rounds: number; promoted: number }
export const progressQuery = defineQuery<WaitlistProgress>(PROGRESS_QUERY);

/** `idleTimeout`: how long the workflow waits for the next change before it completes. */
export interface WaitlistInput extends OperationInput<'waitlist'> {
  /** Carried across continue-as-new. */
  promoted?: number;
  rounds?: number;
  pending?: boolean;
}

const { requestEventChatSync } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
  summary: 'bring promoted attendees into the chat room',
});

/**
 * `waitlist:<event slug>`: one per event, so promotions for an event run one at a time and in
 * order. Each round confirms the earliest waitlisted people into free seats, then triggers the
 * side effects of a confirmation (chat membership).
 */
export async function waitlistWorkflow(input: WaitlistInput): Promise<{ promoted: number; rounds: number }> {
  const progress: WaitlistProgress = { step: 'waiting', rounds: input.rounds ?? 0, promoted: input.promoted ?? 0 };
  setHandler(progressQuery, () => progress);

  await signalledRounds({
    signal: seatsChangedSignal,
    idleTimeout: input.idleTimeout ?? '1 hour',
    pendingAtStart: input.pending,
    round: async () => {
      progress.step = 'promoting';
      const { eventGone, promotedUserIds, chatRoom } = await dbSteps().promoteWaitlist(input.eventSlug);
      progress.rounds++;
      progress.promoted += promotedUserIds.length;
      // Runs recorded before chat existed did not do this (test/replay/histories/waitlist.json);
      // an event without a room has nothing to sync (`chatRoom` false; absent: recorded before it was told).
      if (promotedUserIds.length && patched('chat-sync-after-promotion') && chatRoom !== false) await requestEventChatSync(input.eventSlug);
      progress.step = 'waiting';
      return eventGone ? 'stop' : 'continue';
    },
    continueAsNew: (pending) => continueAsNew<typeof waitlistWorkflow>({
      ...input, promoted: progress.promoted, rounds: progress.rounds, pending,
    }),
  });
  progress.step = 'done';
  return { promoted: progress.promoted, rounds: progress.rounds };
}

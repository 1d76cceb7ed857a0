import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import {
  allHandlersFinished, condition, continueAsNew, defineQuery, defineSignal, isCancellation, patched, proxyActivities, proxyLocalActivities,
  setHandler, sleep, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { EventsPublishResult, PublishResult, SeriesPublishResult } from '../activities/bluesky/index.ts';
import type { RsvpPublishResult } from '../activities/bluesky/rsvps.ts';
import { PROGRESS_QUERY, SIGNALS, type OperationInput, type SignalArgs } from '../temporal/contracts.ts';
import { signalledRounds } from './rounds.ts';
import { FAILURE } from '../temporal/failures.ts';

export const publishSignal = defineSignal<SignalArgs['publish']>(SIGNALS.publish);
export const publishEventSignal = defineSignal<SignalArgs['publishEvent']>(SIGNALS.publishEvent);
export interface PublishProgress<R = PublishResult> { step: 'waiting' | 'publishing' | 'done'; rounds: number; last: R | null }

const asTask = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: [FAILURE.blueskySessionRevoked] },
  summary: 'write the record to the author\'s PDS',
});
/** One try, well inside the workflow task's timeout: a slower PDS is left to the ordinary activity. */
const firstTry = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5 seconds', retry: { maximumAttempts: 1 }, summary: 'write the record to the author\'s PDS (first try)',
});

/** A failure the activity said no retry can mend (a local activity's comes unwrapped). */
const isFinal = (err: unknown) => {
  const failure = err instanceof ActivityFailure ? err.cause : err;
  return failure instanceof ApplicationFailure && failure.nonRetryable;
};

/**
 * A record write's first attempt runs as a local activity: no activity task to schedule, poll and
 * report, so a publication is one workflow task instead of two (bench/bluesky-publish.ts). If it
 * fails, the write is retried as an ordinary activity, so a PDS outage shows in the Web UI as a
 * pending activity with its attempts and last failure. A failure no retry can mend (a revoked
 * session) ends the run as before. Runs recorded before this patch replay with the activity alone.
 */
async function writeRecord<R>(call: (proxy: Activities) => Promise<R>): Promise<R> {
  if (!patched('publish-first-try-local')) return call(asTask);
  try {
    return await call(firstTry);
  } catch (err) {
    if (isCancellation(err)) throw err;
    if (isFinal(err)) {
      // A local activity's outcome is recorded with the task that completes it. A signal landing
      // meanwhile makes the server refuse to end the run in that task, and the rerun would try
      // again and decide otherwise (the try disconnected the user: "skipped"). So the outcome
      // is recorded first (a timer ends the task), and the run fails in the next one.
      await sleep(1);
      throw err;
    }
    return call(asTask);
  }
}

/** The loop shared by the event and RSVP publishers: one write per burst of signals. */
async function publishRounds<R extends { state: string }>(
  input: { idleTimeout?: string; pending?: boolean }, write: () => Promise<R>, restart: (pending: boolean) => Promise<never>,
): Promise<PublishProgress<R>> {
  const progress: PublishProgress<R> = { step: 'waiting', rounds: 0, last: null };
  setHandler(defineQuery<PublishProgress<R>>(PROGRESS_QUERY), () => progress);
  await signalledRounds({
    signal: publishSignal,
    idleTimeout: input.idleTimeout ?? '1 hour',
    pendingAtStart: input.pending,
    round: async () => {
      progress.step = 'publishing';
      progress.last = await write();
      progress.rounds++;
      progress.step = 'waiting';
      return progress.last.state === 'gone' ? 'stop' : 'continue';
    },
    continueAsNew: restart,
  });
  progress.step = 'done';
  return progress;
}

/** Events written per round: one `applyWrites` commit for the new ones, well inside the local try's 5 s. */
const EVENTS_PER_ROUND = 25;

export interface PublisherProgress { step: 'waiting' | 'publishing' | 'done'; rounds: number; published: number; waiting: number; last: EventsPublishResult | null }

/**
 * `bsky-publisher:<user id>`: the only writer of a user's event records, so writes for one event
 * never collide (no locks). Each signal names an event whose record should match its row; a round
 * writes the events named so far (up to EVENTS_PER_ROUND), the new ones in one commit, against the
 * current rows. One long-lived run per author instead of a run per event: an event costs a signal,
 * not a workflow (bench/bluesky-publish.ts). A revoked session fails the run with
 * `BlueskySessionRevoked`; the next change starts a new one.
 */
export async function blueskyPublisherWorkflow(input: OperationInput<'bsky-publisher'> & { waiting?: string[] }): Promise<PublisherProgress> {
  const waiting = new Set(input.waiting ?? []);
  const progress: Omit<PublisherProgress, 'waiting'> = { step: 'waiting', rounds: 0, published: 0, last: null };
  const report = (): PublisherProgress => ({ ...progress, waiting: waiting.size });
  setHandler(defineQuery<PublisherProgress>(PROGRESS_QUERY), report);
  // A slug named again while its round runs stays waiting: the next round reads the newer row.
  setHandler(publishEventSignal, (slug) => { waiting.add(slug); });
  while (await condition(() => waiting.size > 0, (input.idleTimeout ?? '1 hour') as '1 hour')) {
    const slugs = [...waiting].slice(0, EVENTS_PER_ROUND);
    for (const slug of slugs) waiting.delete(slug);
    progress.step = 'publishing';
    progress.last = await writeRecord((a) => a.publishEventRecords(slugs));
    progress.rounds++;
    progress.published += progress.last.published.length;
    progress.step = 'waiting';
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof blueskyPublisherWorkflow>({ ...input, waiting: [...waiting] });
    }
  }
  await condition(allHandlersFinished);
  progress.step = 'done';
  return report();
}

/**
 * `bsky-publish:<event slug>`: runs started before `bsky-publisher`, one per event (nothing starts
 * new ones; kept until none is open). Each signal is one publish round against the current row.
 */
export async function blueskyPublishWorkflow(input: OperationInput<'bsky-publish'> & { pending?: boolean }): Promise<PublishProgress> {
  return publishRounds(input, () => writeRecord((a) => a.publishEventRecord(input.eventSlug)),
    (pending) => continueAsNew<typeof blueskyPublishWorkflow>({ ...input, pending }));
}

/**
 * `bsky-rsvp:<event slug>/<user slug>`: the only writer of one person's RSVP record for one event;
 * each signal makes the record match the attendee row (created, updated, or deleted).
 */
export async function blueskyRsvpWorkflow(input: OperationInput<'bsky-rsvp'> & { pending?: boolean }): Promise<PublishProgress<RsvpPublishResult>> {
  return publishRounds(input, () => writeRecord((a) => a.publishRsvpRecord({ eventSlug: input.eventSlug, userId: input.userId })),
    (pending) => continueAsNew<typeof blueskyRsvpWorkflow>({ ...input, pending }));
}

export interface SeriesPublishProgress { step: 'publishing' | 'waiting for the occurrence to end' | 'waiting for a change' | 'done'; rounds: number; last: SeriesPublishResult | null }

/**
 * `bsky-publish-series:<series slug>`: a series shows one upcoming occurrence on Bluesky. Each
 * round publishes the next occurrence, then a durable timer waits until it ends (or a change is
 * signalled) and the next round moves on to the following one. With nothing upcoming it waits
 * for a change up to `idleTimeout`.
 */
export async function blueskySeriesPublishWorkflow(input: OperationInput<'bsky-publish-series'>): Promise<SeriesPublishProgress> {
  const progress: SeriesPublishProgress = { step: 'publishing', rounds: 0, last: null };
  setHandler(defineQuery<SeriesPublishProgress>(PROGRESS_QUERY), () => progress);
  await signalledRounds({
    signal: publishSignal,
    idleTimeout: input.idleTimeout ?? '1 day',
    pendingAtStart: true,
    round: async () => {
      progress.step = 'publishing';
      progress.last = await asTask.publishSeriesNext({ seriesSlug: input.seriesSlug, asOf: new Date().toISOString() });
      progress.rounds++;
      if (progress.last.state === 'gone') return 'stop';
      if (!progress.last.nextEndsAt) {
        progress.step = 'waiting for a change';
        return 'continue';
      }
      progress.step = 'waiting for the occurrence to end';
      return { at: Date.parse(progress.last.nextEndsAt) + 1000 };
    },
    continueAsNew: () => continueAsNew<typeof blueskySeriesPublishWorkflow>(input), // its first round publishes anyway
  });
  progress.step = 'done';
  return progress;
}

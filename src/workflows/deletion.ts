import {
  ApplicationFailure, CancellationScope, ChildWorkflowFailure, executeChild, isCancellation, patched, proxyActivities, rootCause,
  setHandler, defineQuery,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities/index.ts';
import type { RsvpRecordsResult } from '../activities/bluesky/rsvps.ts';
import { operationId, operationTags, PROGRESS_QUERY, type OperationInput } from '../temporal/contracts.ts';
import { runBounded } from '../concurrency.ts';
import { chatRoomDeletionWorkflow } from './chat-retention.ts';
import { dbSteps, localSteps } from './local-steps.ts';
import { FAILURE } from '../temporal/failures.ts';

/** Steps that call the authors' PDSes (the database steps: `dbSteps()`). */
const remote = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});
const batches = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  // A worker that dies mid-batch is noticed within seconds; the retry continues with what is left.
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
  summary: 'remove attendees in batches',
});

type DeleteEventInput = OperationInput<'delete-event'>;
/**
 * Up to this many attendees are removed in one statement in a local step (100k: ~45 ms here,
 * bench/event-deletion.ts); beyond, batches of `batchSize` in an activity that heartbeats.
 */
export const FEW_ATTENDEES = 100_000;
const FEWER_STEPS = 'fewer-delete-steps';
/** A lone event (nothing outside the database, few attendees) goes in the tombstone's step. */
const LONE_EVENT_ONE_STEP = 'lone-event-one-step';
const RSVP_RECORDS = 'delete-rsvp-records';
/**
 * New runs record this one marker, which implies the three above and `local-db-steps`: each marker
 * is a history event and an upsert of the run's search attributes (bench/event-deletion.ts). Runs
 * recorded before it replay with the markers they have.
 */
const ONE_MARKER = 'delete-event-one-marker';
export interface DeleteEventProgress {
  step: 'tombstoning' | 'cancelling workflows' | 'deleting Bluesky record' | 'deleting chat room' | 'deleting RSVP records'
    | 'removing attendees' | 'detaching from series'
    | 'deleting event' | 'restoring' | 'done';
  attendeesTotal: number;
  attendeesRemoved: number;
  series: 'exception' | 'template-moved' | 'series-deleted' | null;
  /** What happened to the event's record on its owner's PDS, if it had one. */
  bluesky: 'deleted' | 'none' | 'skipped: session revoked' | null;
  /**
   * Attendees' RSVP records removed from their PDSes (unreachable: the author revoked meetflow's
   * session; failed: their PDS kept failing, the records named in failedUris were left).
   */
  rsvpRecords?: RsvpRecordsResult;
}

/**
 * `delete-event:<slug>`. Tombstones the event, cancels its other workflows, closes its chat room
 * (child `chat-room-delete:<alias>`), removes its attendees' RSVP records and then the attendees
 * in bounded batches, keeps its series consistent, and deletes the row last. The chat room purge
 * is the point of no return: a permanent failure (or a cancellation) before it lifts the tombstone and fails with
 * `EventDeletionAborted`; from it on every step is retried until done.
 */
export async function deleteEventWorkflow(input: DeleteEventInput): Promise<DeleteEventProgress> {
  const progress: DeleteEventProgress = { step: 'tombstoning', attendeesTotal: 0, attendeesRemoved: 0, series: null, bluesky: null };
  setHandler(defineQuery<DeleteEventProgress>(PROGRESS_QUERY), () => progress);
  const slug = input.eventSlug;
  // Asked first, and each older one only without it: a new run records no other marker.
  const current = patched(ONE_MARKER);
  const local = current || localSteps();
  const db = dbSteps(local);

  const others = [operationId('waitlist', slug), operationId('chat-room', slug), operationId('bsky-publish', slug)];
  // Runs from before this patch cancel the others in a step of their own, and remove a few
  // attendees in a step before the row's (bench/event-deletion.ts: two local steps less).
  const fewerSteps = current || patched(FEWER_STEPS);
  // Runs from before this patch tombstone a lone event too, and delete it in the steps below.
  const alone = current || (fewerSteps && local && patched(LONE_EVENT_ONE_STEP))
    ? { attendees: Math.min(FEW_ATTENDEES, input.batchSize ?? FEW_ATTENDEES), inSeriesDeletion: input.inSeriesDeletion ?? false }
    : undefined;
  const event = fewerSteps
    // Not cut short by a cancel: one that lands now is seen in the steps below, whose undo lifts the tombstone.
    ? await CancellationScope.nonCancellable(() => db.tombstoneEvent(slug, others, alone))
    : await db.tombstoneEvent(slug);
  if (!event) { progress.step = 'done'; return progress; } // already gone: nothing to do
  progress.attendeesTotal = event.attendees;
  if (event.deleted) {
    progress.attendeesRemoved = event.attendees;
    if (event.cancelsLeft?.length) {
      // Deleted, but cancelling its other operations failed: only a result of that step says so,
      // so runs without it record no new command.
      progress.step = 'cancelling workflows';
      await CancellationScope.nonCancellable(() => db.cancelWorkflows(event.cancelsLeft!));
    }
    progress.step = 'done';
    return progress;
  }

  try {
    if (!fewerSteps) {
      progress.step = 'cancelling workflows';
      await db.cancelWorkflows(others);
    }
    if (event.blueskyUri) {
      progress.step = 'deleting Bluesky record';
      progress.bluesky = await remote.deleteEventRecord(event.eventId);
    }
    if (event.chatRoom) {
      progress.step = 'deleting chat room';
      await closeChatRoom(event.chatRoom);
    }
  } catch (err) {
    // Before the point of no return: put the event back as it was.
    progress.step = 'restoring';
    await CancellationScope.nonCancellable(() => db.restoreEvent(slug));
    if (isCancellation(err)) throw err;
    throw ApplicationFailure.create({
      type: FAILURE.eventDeletionAborted, nonRetryable: true, cause: err as Error,
      message: `event ${slug} was restored: ${rootCause(err)}`,
    });
  }

  // Past the point of no return: finish even if cancelled.
  await CancellationScope.nonCancellable(async () => {
    // No RSVP records (counted under the tombstone, which keeps new RSVPs out): no step.
    if ((current || patched(RSVP_RECORDS)) && event.rsvpRecords !== 0) {
      progress.step = 'deleting RSVP records';
      progress.rsvpRecords = await remote.deleteRsvpRecords(event.eventId);
    }
    // A few go with the row (in one transaction); more go in batches that heartbeat (an activity task).
    const few = local && event.attendees <= Math.min(FEW_ATTENDEES, input.batchSize ?? FEW_ATTENDEES);
    const withRow = few && fewerSteps;
    if (!withRow) {
      progress.step = 'removing attendees';
      if (few) await db.removeFewAttendees({ eventId: event.eventId });
      else {
        for (;;) {
          const r = await batches.removeAttendees({
            // 100k rows are one statement of ~60 ms (bench/event-deletion.ts; 10k-row batches cost 100k twice that).
            eventId: event.eventId, batchSize: input.batchSize ?? 100_000, maxBatches: input.maxBatchesPerActivity ?? 50,
          });
          progress.attendeesRemoved = progress.attendeesTotal - r.remaining;
          if (r.done) break;
        }
      }
    }
    if (event.seriesSlug && event.originalStart && !input.inSeriesDeletion) {
      progress.step = 'detaching from series';
      progress.series = await db.detachFromSeries({ eventId: event.eventId, seriesSlug: event.seriesSlug, originalStart: event.originalStart });
    }
    progress.step = 'deleting event';
    await db.deleteEventRow(event.eventId, withRow);
    progress.attendeesRemoved = progress.attendeesTotal;
    if (progress.series === 'series-deleted') await db.deleteContainerRow({ kind: 'series', slug: event.seriesSlug! });
  });
  progress.step = 'done';
  return progress;
}

async function closeChatRoom(room: { id: string; alias: string }): Promise<void> {
  try {
    await executeChild(chatRoomDeletionWorkflow, { ...operationTags('chat-room-delete', room.alias), args: [{ chatRoomId: room.id, notice: false }] });
  } catch (err) {
    // A retention run is closing this room right now: that is the same outcome.
    if (err instanceof WorkflowExecutionAlreadyStartedError) return;
    if (err instanceof ChildWorkflowFailure) throw err.cause ?? err;
    throw err;
  }
}

export interface ParentProgress {
  step: string;
  childrenTotal: number;
  childrenDone: number;
  childrenSkipped: number;
  failed: string[];
}

const PAGE = 100;
const CHILD_CONCURRENCY = 5;

/** Deletes every event a page at a time, each as a child `delete-event:<slug>`, a few at once. */
async function deleteEventsAsChildren(
  scope: Parameters<Activities['listEventsToDelete']>[0]['scope'], progress: ParentProgress, inSeriesDeletion: boolean,
): Promise<void> {
  const db = dbSteps();
  let afterSlug: string | null = null;
  for (;;) {
    const slugs: string[] = await db.listEventsToDelete({ scope, afterSlug, limit: PAGE });
    if (slugs.length === 0) return;
    afterSlug = slugs[slugs.length - 1];
    progress.childrenTotal += slugs.length;
    await runBounded(slugs, CHILD_CONCURRENCY, async (slug) => {
      try {
        await executeChild(deleteEventWorkflow, { ...operationTags('delete-event', slug), args: [{ eventSlug: slug, inSeriesDeletion }] });
        progress.childrenDone++;
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) progress.childrenSkipped++; // being deleted on its own
        else if (err instanceof ChildWorkflowFailure) progress.failed.push(slug);
        else throw err;
      }
    });
  }
}

function failIfIncomplete(what: string, progress: ParentProgress) {
  if (progress.failed.length) {
    throw ApplicationFailure.create({
      type: FAILURE.cascadeDeletionIncomplete, nonRetryable: true, details: [progress.failed],
      message: `${what}: ${progress.failed.length} events could not be deleted (${progress.failed.slice(0, 5).join(', ')})`,
    });
  }
}

/**
 * `delete-series:<slug>`. `scope=all` deletes every occurrence and then the series; `future` ends
 * the rule before now (UNTIL), deletes the occurrences from now on and keeps the past ones with
 * their series link (the template moves to the latest past occurrence if it lay ahead). A series
 * with nothing in the past is deleted whole.
 */
export async function deleteSeriesWorkflow(input: OperationInput<'delete-series'>): Promise<ParentProgress & { scope: 'all' | 'future' }> {
  const progress: ParentProgress & { scope: 'all' | 'future' } = {
    step: 'starting', scope: input.scope, childrenTotal: 0, childrenDone: 0, childrenSkipped: 0, failed: [],
  };
  setHandler(defineQuery<ParentProgress>(PROGRESS_QUERY), () => progress);
  const at = input.at ?? new Date(Date.now()).toISOString();
  const slug = input.seriesSlug;
  const db = dbSteps();

  if (progress.scope === 'future') {
    progress.step = 'ending the rule';
    if (!(await db.endSeriesBefore({ seriesSlug: slug, at }))) progress.scope = 'all';
  }
  if (progress.scope === 'all') {
    progress.step = 'tombstoning';
    if (!(await db.tombstoneContainer({ kind: 'series', slug }))) { progress.step = 'done'; return progress; }
    await db.cancelWorkflows([operationId('series', slug), operationId('bsky-publish-series', slug)]);
  }
  progress.step = 'deleting events';
  await deleteEventsAsChildren({ kind: 'series', seriesSlug: slug, from: progress.scope === 'future' ? at : undefined }, progress, progress.scope === 'all');
  failIfIncomplete(`series ${slug}`, progress);
  if (progress.scope === 'all') {
    progress.step = 'deleting series';
    await db.deleteContainerRow({ kind: 'series', slug });
  }
  progress.step = 'done';
  return progress;
}

/** `delete-group:<slug>`: its series and events (children), its chat room, members, and the group. */
export async function deleteGroupWorkflow(input: OperationInput<'delete-group'>): Promise<ParentProgress> {
  const progress: ParentProgress = { step: 'tombstoning', childrenTotal: 0, childrenDone: 0, childrenSkipped: 0, failed: [] };
  setHandler(defineQuery<ParentProgress>(PROGRESS_QUERY), () => progress);
  const db = dbSteps();
  const group = await db.tombstoneContainer({ kind: 'group', slug: input.groupSlug });
  if (!group) { progress.step = 'done'; return progress; }
  await db.cancelWorkflows([operationId('chat-room', input.groupSlug)]);

  progress.step = 'deleting series';
  const series = await db.listGroupSeries(group.id);
  progress.childrenTotal += series.length;
  await runBounded(series, 2, async (slug) => {
    try {
      await executeChild(deleteSeriesWorkflow, { ...operationTags('delete-series', slug), args: [{ seriesSlug: slug, scope: 'all' }] });
      progress.childrenDone++;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) progress.childrenSkipped++;
      else if (err instanceof ChildWorkflowFailure) progress.failed.push(`series ${slug}`);
      else throw err;
    }
  });
  progress.step = 'deleting events';
  await deleteEventsAsChildren({ kind: 'group', groupId: group.id }, progress, false);
  failIfIncomplete(`group ${input.groupSlug}`, progress);

  const room = await db.groupChatRoom(group.id);
  if (room) {
    progress.step = 'deleting chat room';
    await closeChatRoom(room);
  }
  progress.step = 'deleting group';
  await db.deleteContainerRow({ kind: 'group', slug: input.groupSlug });
  progress.step = 'done';
  return progress;
}

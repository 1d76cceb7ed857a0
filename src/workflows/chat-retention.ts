import {
  type ActivityOptions, ActivityFailure, ChildWorkflowFailure, continueAsNew, defineQuery, executeChild, isCancellation, patched, proxyActivities,
  rootCause, setHandler, workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities/index.ts';
import type { ExpiredRoom } from '../activities/chat/index.ts';
import { operationTags, PROGRESS_QUERY, type OperationInput } from '../temporal/contracts.ts';
import { runBounded } from '../concurrency.ts';
import { dbSteps } from './local-steps.ts';

const matrixStep = {
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  // A homeserver that is down is waited for: retried with backoff until it answers.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
} as const;
const { closeChatRoom, closeChatRooms, postRetentionNotice, removeChatMembers, purgeChatRoom, findExpiredChatRooms } = proxyActivities<Activities>(matrixStep);
/** A batch of rooms may take long (rooms with many members): its heartbeats, one per room at least, say it lives. */
const batchStep = { ...matrixStep, startToCloseTimeout: '30 minutes' } as const;
/** A page: BATCH rooms, CONCURRENCY at once, as long as batches of ROOMS_PER_TASK took one after the other. */
const pageStep = { ...matrixStep, startToCloseTimeout: '2 hours' } as const;

/**
 * Runs from this patch on leave marking the row deleted to `closeChatRoom` (which always does it,
 * idempotently); runs recorded before mark it in a local step of their own (a history event per
 * room). New runs record this one marker (retention runs: LOCAL_PAGES, which implies it), which
 * implies `one-close-step` and `retention-rooms-in-run`: each marker is a history event and an
 * upsert of the run's search attributes.
 */
const MARKED_IN_CLOSE = 'room-marked-in-close';

export interface RoomDeletionProgress {
  /** `closing`: notice, members, purge and the row marked deleted in one activity; runs recorded before show the parts. */
  step: 'closing' | 'notice' | 'removing members' | 'purging' | 'marking deleted' | 'done';
  membersRemoved: number;
}

/**
 * `chat-room-delete:<alias>`: closes one room: a notice (once), members removed, the room
 * deleted and purged through the admin API (one activity), the row marked deleted. Every step is
 * idempotent; a room already deleted (by hand or an earlier run) passes through as success.
 */
export async function chatRoomDeletionWorkflow(input: OperationInput<'chat-room-delete'>): Promise<RoomDeletionProgress> {
  const progress: RoomDeletionProgress = { step: 'closing', membersRemoved: 0 };
  setHandler(defineQuery<RoomDeletionProgress>(PROGRESS_QUERY), () => progress);
  // Asked first, and the older one only without it: a new run records no other marker.
  const marked = patched(MARKED_IN_CLOSE);
  if (marked || patched('one-close-step')) {
    progress.membersRemoved = await closeChatRoom(input);
    if (marked) { progress.step = 'done'; return progress; }
  } else {
    progress.step = 'notice';
    if (input.notice) await postRetentionNotice(input.chatRoomId);
    progress.step = 'removing members';
    progress.membersRemoved = await removeChatMembers(input.chatRoomId);
    progress.step = 'purging';
    await purgeChatRoom(input.chatRoomId);
  }
  progress.step = 'marking deleted';
  await dbSteps().markChatRoomDeleted(input.chatRoomId);
  progress.step = 'done';
  return progress;
}

export interface RetentionInput extends OperationInput<'chat-retention'> {
  /** Fixed at the first run so the set of rooms does not move while it works; carried across continue-as-new. */
  endedBefore?: string;
  afterId?: string | null;
  totals?: RetentionTotals;
}
export interface RetentionTotals {
  found: number; deleted: number; failed: number; wouldDelete: string[];
  /** Rooms whose closing another run held (runs recorded before ROOMS_IN_RUN; since, such a room counts as deleted). */
  skipped: number;
  /** The first FAILURE_LIST_MAX rooms that failed for good, with the reason (the run's history has the rest). */
  failures: { alias: string; reason: string }[];
}
export interface RetentionProgress extends RetentionTotals { step: 'finding rooms' | 'deleting rooms' | 'done'; dryRun: boolean; endedBefore: string }

/** Rooms per page: the pool drains at the end of each page (bench/chat-retention.ts: 50 left it idle a tenth of the run). */
const BATCH = 200;
/**
 * Runs from this patch on look for rooms in a local step (a database query: no activity task
 * round trip) and stop after a page shorter than BATCH instead of asking for an empty one
 * (bench/chat-retention.ts: from the run's start to its first closing 25–29 ms, was 33–49 ms, and
 * one round trip less at the end). Runs from here to ROOM_BATCHES record this marker, which
 * implies MARKED_IN_CLOSE; runs recorded before find rooms with an ordinary activity until a page
 * comes back empty.
 */
const LOCAL_PAGES = 'retention-pages-local';
/**
 * Runs from this patch on close the rooms of a page in batches of ROOMS_PER_TASK, an activity
 * each, CONCURRENCY batches at once (still at most CONCURRENCY rooms at once: a batch closes its
 * rooms one after the other). An activity task per room made the worker and Temporal work on the
 * cores the homeserver needs (bench/chat-retention.ts, three rounds pooled: 88–92% of bare, now
 * 90–97%; the worker's CPU 15–21% of a core, now 9–16%; Temporal's 10–12%, now 3–4%; the
 * homeserver's time waiting for a core 32–45%, now 16–27%).
 * Runs from here to SHRINKING_BATCHES record this marker, which implies LOCAL_PAGES; runs recorded
 * before close each room with an activity of its own.
 */
const ROOM_BATCHES = 'retention-room-batches';
const ROOMS_PER_TASK = 5;
/**
 * Runs from this patch on size each batch to what is left of the page: a tenth of it
 * (CONCURRENCY), at most ROOMS_PER_TASK, so a page ends on single rooms. With 5 to every batch,
 * a lane that took its last batch late kept closing rooms while the others stood idle
 * (bench/chat-retention.ts: the last ten batches of 100 rooms ended 250–660 ms apart; the bare
 * calls, a room at a time, ended their last ten 220–400 ms apart). Eight alternating pairs of the
 * benchmark: 86–96% of bare (mean 91.9%) before, 89–99% (mean 93.5%) after. Runs from here to
 * PAGE_IN_ONE_TASK record this marker, which implies ROOM_BATCHES; runs recorded before cut the
 * page into fives.
 */
const SHRINKING_BATCHES = 'retention-shrinking-batches';
/**
 * Runs from this patch on hand each page to one `closeChatRooms` activity, which closes its rooms
 * CONCURRENCY at once, each lane taking the next room as it finishes one, as the bare calls do:
 * no lane waits on a batch of its own, and Temporal schedules an activity per page, not one per
 * five rooms (bench/chat-retention.ts, seven alternating pairs: 86–95% of bare, mean 91.1%,
 * before; 90–100%, mean 94.5%, after. CPU per room: Temporal's 3.2–3.7 ms, now 0.6–0.7; the
 * worker's 6.3–7.6 ms, now 5.0–6.2; the homeserver busy 89–90% of the time, now 92–93%).
 * New runs record this one marker, which implies SHRINKING_BATCHES; runs recorded before close
 * a page in batches.
 */
const PAGE_IN_ONE_TASK = 'retention-page-in-one-task';
/**
 * Runs from this patch on close each room with the run's own activity and local step; runs
 * recorded before started a child `chat-room-delete:<alias>` per room, and replay that way. A child
 * per room doubled Temporal's work (bench/chat-retention.ts: the server's CPU 40% of a core with
 * children, 20% without, at the same rate of rooms) and put an execution per room in the Web UI's
 * list. Every part of a closing is idempotent, so a room that an event's deletion closes at the
 * same time is closed once either way.
 */
const ROOMS_IN_RUN = 'retention-rooms-in-run';
const CONCURRENCY = 10;
const DRY_RUN_LIST_MAX = 1000;
const FAILURE_LIST_MAX = 100;

/**
 * `chat-retention:<run>` (daily from the `chat-retention` schedule, or on demand): closes the
 * rooms of events that ended more than `retentionDays` ago, a page of BATCH at a time, each page
 * in one `closeChatRooms` activity that closes CONCURRENCY rooms at once (and marks each row
 * deleted last).
 * `dryRun` only lists the aliases that would go.
 */
export async function chatRetentionWorkflow(input: RetentionInput): Promise<RetentionProgress> {
  const endedBefore = input.endedBefore ?? new Date(Date.now() - input.retentionDays * 86_400_000).toISOString();
  const progress: RetentionProgress = {
    step: 'finding rooms', dryRun: !!input.dryRun, endedBefore,
    found: 0, deleted: 0, skipped: 0, failed: 0, wouldDelete: [], failures: [], ...input.totals,
  };
  setHandler(defineQuery<RetentionProgress>(PROGRESS_QUERY), () => progress);
  let afterId = input.afterId ?? null;
  // Newest first, each older one only without it, as in chatRoomDeletionWorkflow.
  const onePage = patched(PAGE_IN_ONE_TASK);
  const shrinking = onePage || patched(SHRINKING_BATCHES);
  const batches = shrinking || patched(ROOM_BATCHES);
  const localPages = batches || patched(LOCAL_PAGES);
  const marked = localPages || patched(MARKED_IN_CLOSE);
  const deleteRoom = marked || patched(ROOMS_IN_RUN) ? closeInRun(marked) : closeAsChild;
  const findRooms = localPages ? dbSteps(true).findExpiredChatRooms : findExpiredChatRooms;

  for (let lastPage = false; !lastPage;) {
    progress.step = 'finding rooms';
    const batch = await findRooms({ endedBefore, afterId, limit: BATCH });
    if (batch.length === 0) break;
    lastPage = localPages && batch.length < BATCH;
    afterId = batch[batch.length - 1].id;
    progress.found += batch.length;
    if (input.dryRun) {
      progress.wouldDelete.push(...batch.map((r) => r.alias).slice(0, DRY_RUN_LIST_MAX - progress.wouldDelete.length));
      continue;
    }
    progress.step = 'deleting rooms';
    if (onePage) {
      await closeBatch(batch, progress, { ...pageStep, summary: `close ${batch.length} rooms, ${batch[0].alias} to ${batch.at(-1)!.alias}` }, CONCURRENCY);
    } else if (batches) {
      await runBounded(inBatches(batch, shrinking ? CONCURRENCY : 1), CONCURRENCY,
        (rooms) => closeBatch(rooms, progress, { ...batchStep, summary: `close ${rooms.map((r) => r.alias).join(', ')}` }));
    } else await runBounded(batch, CONCURRENCY, (room) => deleteRoom(room, progress));
    if (workflowInfo().continueAsNewSuggested) {
      const { step: _step, dryRun: _dry, endedBefore: _eb, ...totals } = progress;
      await continueAsNew<typeof chatRetentionWorkflow>({ ...input, endedBefore, afterId, totals });
    }
  }
  progress.step = 'done';
  return progress;
}

/** `items` cut in order into batches of ROOMS_PER_TASK, or of 1/`share` of what is left when that is fewer. */
function inBatches<T>(items: T[], share: number): T[][] {
  const batches: T[][] = [];
  for (let at = 0; at < items.length;) {
    const size = Math.min(ROOMS_PER_TASK, Math.ceil((items.length - at) / share));
    batches.push(items.slice(at, (at += size)));
  }
  return batches;
}

/** `options.summary` names the rooms in the Web UI's pending activities (attempts, last failure). */
async function closeBatch(rooms: ExpiredRoom[], progress: RetentionProgress, options: ActivityOptions, concurrency?: number): Promise<void> {
  try {
    const { failures } = await closeChatRooms.executeWithOptions(options,
      [{ rooms: rooms.map(({ id, alias }) => ({ id, alias })), notice: true, concurrency }]);
    progress.deleted += rooms.length - failures.length;
    for (const { alias, reason } of failures) failedFor(alias, reason, progress);
  } catch (err) {
    if (!(err instanceof ActivityFailure) || isCancellation(err)) throw err; // the run is cancelled
    for (const room of rooms) failedFor(room.alias, failureReason(err), progress);
  }
}

const closeInRun = (marked: boolean) => async (room: ExpiredRoom, progress: RetentionProgress): Promise<void> => {
  try {
    // The summary names the room in the Web UI's pending activities (attempts, last failure).
    await closeChatRoom.executeWithOptions({ ...matrixStep, summary: `close ${room.alias}` }, [{ chatRoomId: room.id, notice: true }]);
    if (!marked) await dbSteps().markChatRoomDeleted(room.id);
    progress.deleted++;
  } catch (err) {
    if (!(err instanceof ActivityFailure) || isCancellation(err)) throw err; // the run is cancelled
    failedFor(room.alias, failureReason(err), progress); // a permanent failure, recorded in the run's history
  }
};

async function closeAsChild(room: ExpiredRoom, progress: RetentionProgress): Promise<void> {
  try {
    await executeChild(chatRoomDeletionWorkflow, {
      ...operationTags('chat-room-delete', room.alias),
      args: [{ chatRoomId: room.id, notice: true }],
    });
    progress.deleted++;
  } catch (err) {
    // Another run (on demand next to the schedule) is closing this room already.
    if (err instanceof WorkflowExecutionAlreadyStartedError) progress.skipped++;
    else if (err instanceof ChildWorkflowFailure) failedFor(room.alias, failureReason(err), progress); // recorded in its own history
    else throw err;
  }
}

function failedFor(alias: string, reason: string, progress: RetentionProgress): void {
  progress.failed++;
  if (progress.failures.length < FAILURE_LIST_MAX) progress.failures.push({ alias, reason });
}

/** What an operator reads: the root cause's message; a cancelled closing (its failure has none) says so. */
function failureReason(err: ChildWorkflowFailure | ActivityFailure): string {
  return rootCause(err) || (isCancellation(err) ? 'cancelled' : err.message);
}

import { activityInfo, heartbeat, log } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config.ts';
import { attendeeCount, attendeeTally, deleteAllAttendees, deleteAttendeeBatch } from '../../db/attendees.ts';
import { liveRoomOf, reopenEventRoom } from '../../db/chat-rooms.ts';
import { receiptOf } from '../../db/deletion-receipts.ts';
import { deleteLoneEvent, removeEvent, restoreEventRow, tombstoneEventRow } from '../../db/events.ts';
import { lockSeriesRule, markOccurrenceDeleted, moveTemplate, nearestOtherOccurrence, tombstoneSeries } from '../../db/series.ts';
import { recordFollowUps, type FollowUpRelay, type Recorded } from '../../follow-ups/outbox.ts';
import { afterRoomReopened } from '../../follow-ups/rules.ts';

export interface TombstonedEvent {
  eventId: string;
  slug: string;
  seriesSlug: string | null;
  originalStart: string | null;
  attendees: number;
  /** The chat room row to close first, if the event has a live one. */
  chatRoom: { id: string; alias: string } | null;
  /** The event's record on its owner's PDS, if it was published. */
  blueskyUri: string | null;
  /** Attendees' RSVP records on the network (absent in runs recorded before it was counted). */
  rsvpRecords?: number;
  /** Deleted already, with its attendees, in the tombstone's step (see `tombstoneEvent`'s `aloneUpTo`). */
  deleted?: boolean;
  /** Deleted, but cancelling these of its other operations failed: the workflow cancels them next. */
  cancelsLeft?: string[];
}

/** When a deletion may take the event at once: up to `attendees` of them, and whether its series goes too. */
export interface AloneUpTo { attendees: number; inSeriesDeletion: boolean }

export interface DeletionDeps { ds: DataSource; temporal: Client; config: Config; followUps: FollowUpRelay }

/** Rows of one group or series to delete, in a stable order, a page at a time. */
export type DeletionScope =
  | { kind: 'series'; seriesSlug: string; from?: string }
  | { kind: 'group'; groupId: string };

/** Deleting one event, first: its tombstone (or the undo of it), and its other operations stopped. */
export function eventTombstoneActivities({ ds, temporal, config, followUps }: DeletionDeps) {
  return {
    /**
     * Tombstones the event (status `deleting`: gone from reads, no new RSVPs), remembering its
     * previous status once so that a compensation restores it exactly, and cancels those of
     * `stopWorkflows` that run (its other operations; a retry does both again, harmlessly). Null
     * if it is gone already.
     *
     * With `aloneUpTo`, an event that has nothing outside the database (no record, chat room or
     * RSVP records, no series to keep consistent) and at most that many attendees is deleted
     * instead, with them, in one statement (`deleted`: the deletion's one step; bench/event-deletion.ts).
     * That statement keeps the report under the run's id: run again after its commit (its worker
     * died before the result reached Temporal), the step answers the same report.
     */
    async tombstoneEvent(slug: string, stopWorkflows: string[] = [], aloneUpTo?: AloneUpTo): Promise<TombstonedEvent | null> {
      // One step only for a workflow's run, whose id keeps the step's report (always one: `delete-event`).
      const run = activityInfo().workflowExecution;
      const alone = aloneUpTo && run && { ...aloneUpTo, runId: run.runId };
      // Side by side with the database: the other operations see the tombstone, or no event, either way.
      const [outcome, cancels] = await Promise.allSettled([tombstoneOrDelete(ds, slug, alone), cancelRunning(temporal, stopWorkflows)]);
      if (outcome.status === 'rejected') throw outcome.reason;
      if (cancels.status === 'fulfilled') return outcome.value;
      // A lone event's deletion committed: rather than this whole step again, the workflow cancels
      // them in a step of its own.
      if (outcome.value?.deleted) return { ...outcome.value, cancelsLeft: stopWorkflows };
      throw cancels.reason;
    },

    /**
     * Compensation: lifts the tombstone, restoring the status the event had. A chat room the
     * deletion had begun to close (members removed, not yet purged: see `purgeChatRoom`) opens
     * again, and its sync brings the members back.
     */
    async restoreEvent(slug: string): Promise<void> {
      let recorded: Recorded[] = [];
      await ds.transaction(async (m) => {
        const eventId = await restoreEventRow(m, slug);
        if (!eventId) return;
        if (await reopenEventRoom(m, eventId)) recorded = await recordFollowUps(m, afterRoomReopened(config, slug));
      });
      await followUps.deliver(recorded);
    },

    /** Cancels those of these workflows that are running (the entity's other operations). */
    async cancelWorkflows(ids: string[]): Promise<string[]> {
      return cancelRunning(temporal, ids);
    },
  };
}

/** A lone event's deletion, by the run that asks for it (its report is kept under the run's id). */
type Alone = AloneUpTo & { runId: string };

/**
 * `tombstoneEvent`'s database part: the lone event deleted, or the event tombstoned and counted.
 * When it is gone: what this run's lone deletion reported, if it did (its step is being run again
 * after the commit), else null.
 */
async function tombstoneOrDelete(ds: DataSource, slug: string, alone?: Alone): Promise<TombstonedEvent | null> {
  const gone = alone
    ? await deleteLoneEvent<TombstonedEvent>(ds, { slug, inSeriesDeletion: alone.inSeriesDeletion, maxAttendees: alone.attendees, runId: alone.runId })
    : null;
  if (gone) return gone;
  const event = await tombstoneEventRow(ds, slug);
  if (!event) return alone ? receiptOf<TombstonedEvent>(ds, alone.runId) : null;
  // Read side by side: counting 100k attendees is most of this step.
  const [{ attendees, rsvpRecords }, chatRoom] = await Promise.all([
    attendeeTally(ds, event.id), liveRoomOf(ds, { kind: 'event', id: event.id }),
  ]);
  return {
    eventId: event.id, slug, seriesSlug: event.series_slug, originalStart: event.original_start?.toISOString() ?? null,
    attendees, chatRoom, blueskyUri: event.bluesky_uri ?? null, rsvpRecords,
  };
}

/** Requests cancellation of those of `ids` that run; answers them. One round trip each, side by side. */
async function cancelRunning(temporal: Client, ids: string[]): Promise<string[]> {
  const cancelled = await Promise.all(ids.map(async (id) => {
    try {
      await temporal.workflow.getHandle(id).cancel();
      return id;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err; // none, or closed already
      return null;
    }
  }));
  return cancelled.filter((id) => id !== null);
}

/** Deleting one event, then: its attendees in batches, its place in its series, its rows. */
export function eventRemovalActivities({ ds }: Pick<DeletionDeps, 'ds'>) {
  return {
    /**
     * Removes up to `maxBatches` batches of the event's attendees, each its own committed
     * statement, heartbeating after each; a retry after a crash carries on with what is left.
     */
    async removeAttendees(input: { eventId: string; batchSize: number; maxBatches: number }): Promise<{ removed: number; remaining: number; done: boolean }> {
      let removed = 0;
      for (let i = 0; i < input.maxBatches; i++) {
        const n = await deleteAttendeeBatch(ds, input.eventId, input.batchSize);
        removed += n;
        heartbeat({ removed });
        // A short batch means none are left: the tombstone keeps new RSVPs out.
        if (n < input.batchSize) return { removed, remaining: 0, done: true };
      }
      // Counted, not summed: an attempt killed mid-way removed rows it never reported.
      const left = await attendeeCount(ds, input.eventId);
      return { removed, remaining: left, done: left === 0 };
    },

    /**
     * All attendees of a tombstoned event in one statement, for the few its tombstone counted (a
     * local step: no heartbeat), in runs from before `fewer-delete-steps`; later runs remove them
     * in `deleteEventRow`'s statement. None are left after it: the tombstone keeps new RSVPs
     * out, and `deleteEventRow` checks. (Batches by ctid, with a recount, took this half again.)
     */
    async removeFewAttendees(input: { eventId: string }): Promise<void> {
      await deleteAllAttendees(ds, input.eventId);
    },

    /**
     * Keeps the series consistent when one of its occurrences goes: an ordinary occurrence becomes
     * a `deleted` exception (materialization never re-creates it); the template hands its role to
     * the next occurrence, or, when it was the last one, the series is tombstoned to go with it.
     */
    async detachFromSeries(input: { eventId: string; seriesSlug: string; originalStart: string }): Promise<'exception' | 'template-moved' | 'series-deleted'> {
      return ds.transaction(async (m) => {
        const series = await lockSeriesRule(m, input.seriesSlug);
        if (!series) return 'series-deleted';
        await markOccurrenceDeleted(m, input.seriesSlug, input.originalStart);
        if (series.template_event_id !== input.eventId) return 'exception';
        const next = await nearestOtherOccurrence(m, input.seriesSlug, input.eventId);
        if (next) {
          await moveTemplate(m, input.seriesSlug, next);
          return 'template-moved';
        }
        // The last occurrence: the series goes too, after the event row (deleteContainerRow).
        await tombstoneSeries(m, input.seriesSlug);
        return 'series-deleted';
      });
    },

    /**
     * The last step: the chat room row and the event row (exceptions let go by their FK), in one
     * statement. Already gone is success. With `withAttendees` (the few a tombstone counted) they
     * go in it too (bench/event-deletion.ts: one step less); otherwise the batches removed them.
     */
    async deleteEventRow(eventId: string, withAttendees = false): Promise<void> {
      await removeEvent(ds, eventId, withAttendees); // attendees left after the batches: it refuses, and is retried
      log.info('event deleted', { eventId, attempt: activityInfo().attempt });
    },
  };
}

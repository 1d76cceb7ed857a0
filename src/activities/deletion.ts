import { activityInfo, ApplicationFailure, heartbeat, log } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import type { Config } from '../config.ts';
import { attendeeCount, deleteAttendeeBatch } from '../db/attendees.ts';
import { deleteRoomRow, liveRoomOf, reopenEventRoom } from '../db/chat-rooms.ts';
import { deleteEventRows, eventCountInGroup, eventSlugsPage, eventStart, restoreEventRow, tombstoneEventRow } from '../db/events.ts';
import { deleteGroupRows, groupIdBySlug, tombstoneGroup } from '../db/groups.ts';
import {
  deleteSeriesRows, endRule, lastOccurrenceBefore, lockSeriesRule, markOccurrenceDeleted, moveTemplate, nearestOtherOccurrence,
  releaseTemplate, seriesOfGroup, tombstoneSeries,
} from '../db/series.ts';
import { recordFollowUps, type FollowUpRelay, type Recorded } from '../follow-ups/outbox.ts';
import { afterRoomReopened } from '../follow-ups/rules.ts';
import { FAILURE } from '../temporal/failures.ts';

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
}

export interface DeletionDeps { ds: DataSource; temporal: Client; config: Config; followUps: FollowUpRelay }

/** Rows of one group or series to delete, in a stable order, a page at a time. */
export type DeletionScope =
  | { kind: 'series'; seriesSlug: string; from?: string }
  | { kind: 'group'; groupId: string };

export function deletionActivities({ ds, temporal, config, followUps }: DeletionDeps) {
  return {
    /**
     * Tombstones the event (status `deleting`: gone from reads, no new RSVPs), remembering its
     * previous status once so that a compensation restores it exactly. Null if it is gone already.
     */
    async tombstoneEvent(slug: string): Promise<TombstonedEvent | null> {
      const event = await tombstoneEventRow(ds, slug);
      if (!event) return null;
      return {
        eventId: event.id, slug, seriesSlug: event.series_slug, originalStart: event.original_start?.toISOString() ?? null,
        attendees: await attendeeCount(ds, event.id), chatRoom: await liveRoomOf(ds, { kind: 'event', id: event.id }),
        blueskyUri: event.bluesky_uri ?? null,
      };
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
      const cancelled: string[] = [];
      for (const id of ids) {
        try {
          const handle = temporal.workflow.getHandle(id);
          if ((await handle.describe()).status.name !== 'RUNNING') continue;
          await handle.cancel();
          cancelled.push(id);
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
      }
      return cancelled;
    },

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

    /** The last step: the chat room row and the event row (exceptions let go by their FK). Already gone is success. */
    async deleteEventRow(eventId: string): Promise<void> {
      await ds.transaction(async (m) => {
        const left = await attendeeCount(m, eventId);
        if (left > 0) throw new Error(`event ${eventId} still has ${left} attendees`); // retried after the batches
        await releaseTemplate(m, eventId);
        await deleteRoomRow(m, { kind: 'event', id: eventId });
        await deleteEventRows(m, eventId);
      });
      log.info('event deleted', { eventId, attempt: activityInfo().attempt });
    },

    /** Marks a series or group as being deleted: no more materialization, no new events in it. */
    async tombstoneContainer(scope: { kind: 'series'; slug: string } | { kind: 'group'; slug: string }): Promise<{ id: string } | null> {
      const id = scope.kind === 'series' ? await tombstoneSeries(ds, scope.slug) : await tombstoneGroup(ds, scope.slug);
      return id ? { id } : null;
    },

    /** The next page of event slugs to delete in a series (from a time on) or a group. */
    async listEventsToDelete(input: { scope: DeletionScope; afterSlug: string | null; limit: number }): Promise<string[]> {
      return eventSlugsPage(ds, input.scope, input.afterSlug, input.limit);
    },

    async listGroupSeries(groupId: string): Promise<string[]> {
      return seriesOfGroup(ds, groupId);
    },

    /**
     * Ends a series at `at` for `scope=future`: the rule gets UNTIL just before `at`, so nothing
     * from then on is materialized again. Returns false when nothing of the series lies before
     * `at` (then the whole series goes).
     */
    async endSeriesBefore(input: { seriesSlug: string; at: string }): Promise<boolean> {
      return ds.transaction(async (m) => {
        const s = await lockSeriesRule(m, input.seriesSlug);
        if (!s) return false;
        const past = await lastOccurrenceBefore(m, input.seriesSlug, input.at);
        if (!past) return false;
        const until = new Date(new Date(input.at).getTime() - 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
        const rule = s.rrule.split(';').filter((p: string) => !/^(UNTIL|COUNT)=/i.test(p)).concat(`UNTIL=${until}`).join(';');
        // The template must stay: if it lies ahead, the latest past occurrence takes its role.
        const templateStart = s.template_event_id ? await eventStart(m, s.template_event_id) : null;
        const templateId = templateStart && templateStart < new Date(input.at) ? s.template_event_id! : past;
        await endRule(m, input.seriesSlug, rule, templateId);
        return true;
      });
    },

    /** The container row last (its events are gone by now). */
    async deleteContainerRow(scope: { kind: 'series' | 'group'; slug: string }): Promise<void> {
      await ds.transaction(async (m) => {
        if (scope.kind === 'series') {
          await deleteSeriesRows(m, scope.slug);
          return;
        }
        const groupId = await groupIdBySlug(m, scope.slug);
        if (!groupId) return;
        const left = await eventCountInGroup(m, groupId);
        if (left > 0) throw ApplicationFailure.create({ type: FAILURE.groupNotEmpty, message: `group ${scope.slug} still has ${left} events` });
        await deleteRoomRow(m, { kind: 'group', id: groupId });
        await deleteGroupRows(m, groupId);
      });
    },

    /** A group's chat room row to close, if it has a live one. */
    async groupChatRoom(groupId: string): Promise<{ id: string; alias: string } | null> {
      return liveRoomOf(ds, { kind: 'group', id: groupId });
    },
  };
}

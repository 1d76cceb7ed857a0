import { ApplicationFailure } from '@temporalio/activity';
import { deleteRoomRow, liveRoomOf } from '../../db/chat-rooms.ts';
import { eventCountInGroup, eventSlugsPage, eventStart } from '../../db/events.ts';
import { deleteGroupRows, groupIdBySlug, tombstoneGroup } from '../../db/groups.ts';
import { deleteSeriesRows, endRule, lastOccurrenceBefore, lockSeriesRule, seriesOfGroup, tombstoneSeries } from '../../db/series.ts';
import { FAILURE } from '../../temporal/failures.ts';
import type { DeletionDeps } from './event.ts';

/** Rows of one group or series to delete, in a stable order, a page at a time. */
export type DeletionScope =
  | { kind: 'series'; seriesSlug: string; from?: string }
  | { kind: 'group'; groupId: string };

/** The steps around a series' or a group's events: tombstone the container, page its events, end a series early, delete its rows. */
export function containerDeletionActivities({ ds }: DeletionDeps) {
  return {
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

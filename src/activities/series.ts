import { ApplicationFailure, log } from '@temporalio/activity';
import type { DataSource } from 'typeorm';
import { lastOccurrence, occurrences } from '../domain/recurrence.ts';
import { followTemplateRoles } from '../domain/event-roles.ts';
import { occurrenceSlug } from '../domain/series.ts';
import type { FollowUpRelay } from '../follow-ups/outbox.ts';
import { recordFollowUps, type Recorded } from '../follow-ups/outbox.ts';
import { afterOccurrencesChanged } from '../follow-ups/rules.ts';
import {
  cancelOccurrences, deleteEmptyOccurrences, exceptedStarts, followTemplate, insertOccurrences, lockSeriesToMaterialize,
  managedOccurrences, setMaterializedUntil, templateOf,
} from '../db/occurrences.ts';
import { FAILURE } from '../temporal/failures.ts';

export interface MaterializeInput { seriesSlug: string; now: string; horizonDays: number; maxOccurrences: number }
export type MaterializeResult =
  | { state: 'gone' }
  | { state: 'active'; created: number; updated: number; cancelled: number; deleted: number; materializedUntil: string; ended: boolean };

const DAY_MS = 86_400_000;

export function seriesActivities({ ds, followUps }: { ds: DataSource; followUps: FollowUpRelay }) {

  return {
    /**
     * Brings the series' future occurrences in line with its rule, template and exceptions, up to
     * the horizon (`now` + horizonDays, at most maxOccurrences): creates missing ones (bulk insert,
     * ON CONFLICT on (series_slug, original_start)), updates unmodified ones that drifted from the
     * template, and for those that no longer match the rule cancels the ones people signed up for
     * and removes the rest. Past occurrences, modified or cancelled exceptions and the template are
     * never touched. One transaction under the series' row lock; running it again changes nothing.
     */
    async materializeSeries(input: MaterializeInput): Promise<MaterializeResult> {
      let recorded: Recorded[] = [];
      const result = await ds.transaction(async (m) => {
        const series = await lockSeriesToMaterialize(m, input.seriesSlug);
        if (!series || series.status === 'deleting') return { state: 'gone' as const };
        const template = await templateOf(m, series.template_event_id);
        if (!template) {
          throw ApplicationFailure.create({ type: FAILURE.seriesTemplateMissing, message: `series ${series.slug} has no template event`, nonRetryable: true });
        }
        const now = new Date(input.now);
        const spec = { rrule: series.rrule, dtstart: series.dtstart, timeZone: series.time_zone };
        const horizon = new Date(now.getTime() + input.horizonDays * DAY_MS);
        const excepted = await exceptedStarts(m, series.slug);
        const wanted = occurrences(spec, { from: now, to: horizon, limit: input.maxOccurrences })
          .filter((start) => !excepted.has(start.getTime()) && start.getTime() !== template.original_start.getTime());
        const wantedMs = new Set(wanted.map((d) => d.getTime()));

        const existing = await managedOccurrences(m, series.slug, now, template.id);
        const stale = existing.filter((e) => !wantedMs.has(e.original_start.getTime()));
        const kept = existing.filter((e) => wantedMs.has(e.original_start.getTime())).map((e) => e.id);
        const cancelled = await cancelOccurrences(m, stale.filter((e) => e.attendees > 0).map((e) => e.id));
        const deleted = await deleteEmptyOccurrences(m, stale.filter((e) => e.attendees === 0).map((e) => e.id));
        // The template's fields first: an occurrence taking roles must have lost its own capacity.
        const fields = await followTemplate(m, kept, template.id, series.duration_minutes);
        const roles = await followTemplateRoles(m, template.id, kept);
        const updated = new Set([...fields.changed, ...roles.changed]).size;
        const seatsFreed = [...new Set([...fields.seatsFreed, ...roles.seatsFreed])];
        const created = await insertOccurrences(m, series.slug,
          wanted.map((start) => ({ slug: occurrenceSlug(series.slug, start, series.time_zone), start })), template.id, series.duration_minutes);

        const last = lastOccurrence(spec);
        const until = last && last < horizon ? last : horizon;
        await setMaterializedUntil(m, series.slug, until);
        if (created || updated || cancelled || deleted) {
          log.info('series materialized', { series: series.slug, created, updated, cancelled, deleted });
          // Recorded with the change: a retry after a crash finds nothing changed, and the wake-up still comes.
          recorded = await recordFollowUps(m, await afterOccurrencesChanged(m, series.slug, seatsFreed));
        }
        return {
          state: 'active' as const, created, updated, cancelled, deleted,
          materializedUntil: until.toISOString(), ended: last !== null && last < horizon,
        };
      });
      await followUps.deliver(recorded);
      return result;
    },
  };
}

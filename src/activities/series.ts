import { ApplicationFailure, log } from '@temporalio/activity';
import type { DataSource } from 'typeorm';
import { lastOccurrence, occurrences } from '../domain/recurrence.ts';
import { occurrenceSlug } from '../domain/series.ts';
import type { FollowUpRelay } from '../follow-ups/outbox.ts';
import { recordFollowUps, type Recorded } from '../follow-ups/outbox.ts';
import { afterOccurrencesChanged } from '../follow-ups/rules.ts';
import { changedRows } from '../db/changed-rows.ts';
import { FAILURE } from '../temporal/failures.ts';

export interface MaterializeInput { seriesSlug: string; now: string; horizonDays: number; maxOccurrences: number }
export type MaterializeResult =
  | { state: 'gone' }
  | { state: 'active'; created: number; updated: number; cancelled: number; deleted: number; materializedUntil: string; ended: boolean };

const DAY_MS = 86_400_000;

/** Fields every occurrence takes from the template event (occurrence zero). */
const TEMPLATE_FIELDS = ['name', 'description', 'time_zone', 'visibility', 'owner_id', 'group_id', 'capacity', 'chat_enabled',
  'location', 'online_url', 'country', 'publish_to_bluesky'] as const;

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
        const [series] = await m.query(
          `SELECT slug, rrule, dtstart, duration_minutes, time_zone, template_event_id, status
             FROM event_series WHERE slug = $1 FOR UPDATE`, [input.seriesSlug]);
        if (!series || series.status === 'deleting') return { state: 'gone' as const };
        const [template] = await m.query(`SELECT * FROM events WHERE id = $1`, [series.template_event_id]);
        if (!template) {
          throw ApplicationFailure.create({ type: FAILURE.seriesTemplateMissing, message: `series ${series.slug} has no template event`, nonRetryable: true });
        }
        const now = new Date(input.now);
        const spec = { rrule: series.rrule, dtstart: series.dtstart, timeZone: series.time_zone };
        const horizon = new Date(now.getTime() + input.horizonDays * DAY_MS);
        const excepted = new Set((await m.query(`SELECT original_start FROM series_exceptions WHERE series_slug = $1`, [series.slug]))
          .map((r: { original_start: Date }) => r.original_start.getTime()));
        const wanted = occurrences(spec, { from: now, to: horizon, limit: input.maxOccurrences })
          .filter((start) => !excepted.has(start.getTime()) && start.getTime() !== template.original_start.getTime());
        const wantedMs = new Set(wanted.map((d) => d.getTime()));

        // Future occurrences that are ours to manage: not the template, not an exception.
        const existing: { id: string; original_start: Date; attendees: number }[] = await m.query(
          `SELECT e.id, e.original_start,
                  (SELECT count(*)::int FROM attendees a WHERE a.event_id = e.id AND a.status <> 'cancelled') AS attendees
             FROM events e
            WHERE e.series_slug = $1 AND e.original_start >= $2 AND e.id <> $3 AND e.status <> 'deleting'
              AND NOT EXISTS (SELECT 1 FROM series_exceptions x WHERE x.series_slug = e.series_slug AND x.original_start = e.original_start)`,
          [series.slug, now, template.id]);
        const stale = existing.filter((e) => !wantedMs.has(e.original_start.getTime()));
        const kept = existing.filter((e) => wantedMs.has(e.original_start.getTime())).map((e) => e.id);

        const withPeople = stale.filter((e) => e.attendees > 0).map((e) => e.id);
        const cancelled = withPeople.length
          ? (await changedRows(m, `UPDATE events SET status = 'cancelled', updated_at = now() WHERE id = ANY($1::uuid[]) AND status <> 'cancelled' RETURNING id`, [withPeople])).length
          : 0;
        const empty = stale.filter((e) => e.attendees === 0).map((e) => e.id);
        const deleted = empty.length
          ? (await changedRows(m,
            `WITH gone AS (SELECT e.id FROM events e WHERE e.id = ANY($1::uuid[])
                  AND NOT EXISTS (SELECT 1 FROM attendees a WHERE a.event_id = e.id)
                  AND NOT EXISTS (SELECT 1 FROM chat_rooms c WHERE c.event_id = e.id)),
                  roles AS (DELETE FROM event_roles WHERE event_id IN (SELECT id FROM gone))
             DELETE FROM events WHERE id IN (SELECT id FROM gone) RETURNING id`, [empty])).length
          : 0;

        // Unmodified occurrences follow the template (targeted columns only, and only where they differ).
        const sets = TEMPLATE_FIELDS.map((f) => `${f} = t.${f}`).join(', ');
        const differs = TEMPLATE_FIELDS.map((f) => `e.${f} IS DISTINCT FROM t.${f}`).join(' OR ');
        const updated = kept.length
          ? (await changedRows(m,
            `UPDATE events e SET ${sets}, start_at = e.original_start, end_at = e.original_start + $3 * interval '1 minute',
                    status = CASE WHEN e.status = 'cancelled' THEN t.status ELSE e.status END, updated_at = now()
               FROM events t WHERE t.id = $2 AND e.id = ANY($1::uuid[])
                AND (${differs} OR e.start_at <> e.original_start OR e.end_at <> e.original_start + $3 * interval '1 minute'
                     OR (e.status = 'cancelled' AND t.status <> 'cancelled'))
             RETURNING e.id`, [kept, template.id, series.duration_minutes])).length
          : 0;

        const created = wanted.length
          ? (await m.query(
            `INSERT INTO events (slug, series_slug, original_start, start_at, end_at, status, ${TEMPLATE_FIELDS.join(', ')})
             SELECT o.slug, $1, o.start, o.start, o.start + $4 * interval '1 minute', CASE WHEN t.status = 'draft' THEN 'draft' ELSE 'published' END,
                    ${TEMPLATE_FIELDS.map((f) => `t.${f}`).join(', ')}
               FROM unnest($2::text[], $3::timestamptz[]) AS o(slug, start), events t
              WHERE t.id = $5
             ON CONFLICT (series_slug, original_start) DO NOTHING RETURNING id`,
            [series.slug, wanted.map((d) => occurrenceSlug(series.slug, d, series.time_zone)), wanted, series.duration_minutes, template.id]))
            .length
          : 0;

        const last = lastOccurrence(spec);
        const until = last && last < horizon ? last : horizon;
        await m.query(`UPDATE event_series SET materialized_until = $2, updated_at = now() WHERE slug = $1`, [series.slug, until]);
        if (created || updated || cancelled || deleted) {
          log.info('series materialized', { series: series.slug, created, updated, cancelled, deleted });
          // Recorded with the change: a retry after a crash finds nothing changed, and the wake-up still comes.
          recorded = await recordFollowUps(m, await afterOccurrencesChanged(m, series.slug));
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

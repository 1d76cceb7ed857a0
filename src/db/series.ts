import type { DataSource, EntityManager } from 'typeorm';
import type { Event } from './entities/event.ts';
import { changedRows } from './changed-rows.ts';
import { copyRoles } from './event-roles.ts';
import { setClause } from './events.ts';

/** The `event_series` and `series_exceptions` tables, and the template event a series is made with. */
type Q = DataSource | EntityManager;

export interface SeriesRow {
  id: string; slug: string; name: string; description: string | null; rrule: string; dtstart: Date;
  duration_minutes: number; time_zone: string; template_event_id: string; owner_id: string; group_id: string | null;
  status: string; materialized_until: Date | null; template_slug: string; template_original_start: Date;
}
export type ExceptionKind = 'modified' | 'cancelled' | 'deleted';

/** A live series with its template's slug and original start; `lock` takes the series' row lock. */
export async function liveSeries(q: Q, slug: string, lock = false): Promise<SeriesRow | null> {
  const [row] = await q.query(
    `SELECT s.*, t.slug AS template_slug, t.original_start AS template_original_start
       FROM event_series s JOIN events t ON t.id = s.template_event_id
      WHERE s.slug = $1 AND s.status <> 'deleting' ${lock ? 'FOR UPDATE OF s' : ''}`, [slug]);
  return row ?? null;
}

/** Who manages the series, a tombstoned one too. */
export async function seriesOwnership(q: Q, slug: string): Promise<{ ownerId: string; groupId: string | null } | null> {
  const [s] = await q.query(`SELECT owner_id, group_id FROM event_series WHERE slug = $1`, [slug]);
  return s ? { ownerId: s.owner_id, groupId: s.group_id } : null;
}

export interface NewSeries {
  slug: string; rrule: string; dtstart: Date; durationMinutes: number; timeZone: string; ownerId: string; groupId: string | null;
  /** The template event (occurrence zero). */
  template: {
    slug: string; name: string; description: string | null; endAt: Date; capacity: number | null; chatEnabled: boolean;
    publishToBluesky: boolean | null; location: string | null; onlineUrl: string | null; country: string | null;
  };
}

/** The series and its template event, linked. */
export async function insertSeries(m: EntityManager, s: NewSeries): Promise<void> {
  const t = s.template;
  await m.query(
    `INSERT INTO event_series (slug, name, description, rrule, dtstart, duration_minutes, time_zone, owner_id, group_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [s.slug, t.name, t.description, s.rrule, s.dtstart, s.durationMinutes, s.timeZone, s.ownerId, s.groupId]);
  const [template] = await m.query(
    `INSERT INTO events (slug, name, description, start_at, end_at, time_zone, owner_id, group_id, series_slug, original_start,
                         capacity, chat_enabled, publish_to_bluesky, location, online_url, country)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $4, $10, $11, $12, $13, $14, $15) RETURNING id`,
    [t.slug, t.name, t.description, s.dtstart, t.endAt, s.timeZone, s.ownerId, s.groupId, s.slug,
      t.capacity, t.chatEnabled, t.publishToBluesky, t.location, t.onlineUrl, t.country]);
  await m.query(`UPDATE event_series SET template_event_id = $2 WHERE slug = $1`, [s.slug, template.id]);
}

/** Writes the given columns of the series row (undefined ones left out). */
export async function updateSeriesRow(m: EntityManager, slug: string, columns: Record<string, unknown>): Promise<void> {
  const set = setClause(columns);
  if (set.values.length) await m.query(`UPDATE event_series SET ${set.sql}, updated_at = now() WHERE slug = $1`, [slug, ...set.values]);
}

export interface OccurrenceRow { id: string; slug: string; original_start: Date; start_at: Date; end_at: Date; status: string }

/** The materialized occurrence at `originalStart`, if there is one. */
export async function occurrenceAt(m: EntityManager, seriesSlug: string, originalStart: Date): Promise<OccurrenceRow | undefined> {
  const [event] = await m.query(
    `SELECT id, slug, original_start, start_at, end_at, status FROM events WHERE series_slug = $1 AND original_start = $2`, [seriesSlug, originalStart]);
  return event;
}

/** Materializes one occurrence now, from the template and with its roles (one beyond the horizon being modified). */
export async function insertOccurrenceFromTemplate(m: EntityManager, s: Pick<SeriesRow, 'slug' | 'duration_minutes' | 'template_event_id'>, originalStart: Date, slug: string): Promise<OccurrenceRow> {
  const [event] = await m.query(
    `INSERT INTO events (slug, series_slug, original_start, start_at, end_at, name, description, time_zone, visibility, owner_id,
                         group_id, capacity, chat_enabled, location, online_url, country, publish_to_bluesky)
     SELECT $3, $1, $2::timestamptz, $2::timestamptz, $2::timestamptz + $4 * interval '1 minute', name, description, time_zone, visibility, owner_id,
            group_id, capacity, chat_enabled, location, online_url, country, publish_to_bluesky FROM events WHERE id = $5
     RETURNING id, slug, original_start, start_at, end_at, status`,
    [s.slug, originalStart, slug, s.duration_minutes, s.template_event_id]);
  await copyRoles(m, s.template_event_id, [event.id]);
  return event;
}

/** Live materialized occurrences and the exceptions in [from, to). */
export async function occurrencesBetween(q: Q, seriesSlug: string, from: Date, to: Date) {
  const events: OccurrenceRow[] = await q.query(
    `SELECT id, slug, original_start, start_at, end_at, status FROM events
      WHERE series_slug = $1 AND original_start >= $2 AND original_start < $3 AND status <> 'deleting'`, [seriesSlug, from, to]);
  const exceptions: { original_start: Date; kind: ExceptionKind }[] = await q.query(
    `SELECT original_start, kind FROM series_exceptions WHERE series_slug = $1 AND original_start >= $2 AND original_start < $3`, [seriesSlug, from, to]);
  return { events, exceptions };
}

/**
 * A change to a series occurrence: the template's fields flow to every unmodified occurrence
 * (re-materialize; answers true); any other occurrence becomes a `modified` exception, so
 * re-materialization never overwrites it.
 */
export async function recordOccurrenceChange(m: EntityManager, event: Event, patch: Record<string, unknown>): Promise<boolean> {
  const [series] = await m.query(`SELECT template_event_id FROM event_series WHERE slug = $1`, [event.seriesSlug]);
  if (series?.template_event_id === event.id) return true;
  // An exception already there keeps its kind (a cancelled occurrence edited stays cancelled).
  await m.query(
    `INSERT INTO series_exceptions (series_slug, original_start, kind, event_id, overrides) VALUES ($1, $2, 'modified', $3, $4)
     ON CONFLICT (series_slug, original_start) DO UPDATE
       SET overrides = series_exceptions.overrides || EXCLUDED.overrides, event_id = EXCLUDED.event_id, updated_at = now()`,
    [event.seriesSlug, event.originalStart, event.id, JSON.stringify(patch)]);
  return false;
}

/** An exception of the rule at `originalStart` made through the series; later overrides add to earlier ones. */
export async function upsertException(m: EntityManager, x: {
  seriesSlug: string; originalStart: Date; kind: 'modified' | 'cancelled'; eventId: string | null; overrides: Record<string, unknown>;
}): Promise<void> {
  await m.query(
    `INSERT INTO series_exceptions (series_slug, original_start, kind, event_id, overrides) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (series_slug, original_start) DO UPDATE
       SET kind = EXCLUDED.kind, event_id = coalesce(EXCLUDED.event_id, series_exceptions.event_id),
           overrides = series_exceptions.overrides || EXCLUDED.overrides, updated_at = now()`,
    [x.seriesSlug, x.originalStart, x.kind, x.eventId, JSON.stringify(x.overrides)]);
}

/** An occurrence deleted on its own: materialization never re-creates it. */
export async function markOccurrenceDeleted(m: EntityManager, seriesSlug: string, originalStart: string): Promise<void> {
  await m.query(
    `INSERT INTO series_exceptions (series_slug, original_start, kind, event_id) VALUES ($1, $2, 'deleted', NULL)
     ON CONFLICT (series_slug, original_start) DO UPDATE SET kind = 'deleted', event_id = NULL, updated_at = now()`,
    [seriesSlug, originalStart]);
}

export async function lockSeriesRule(m: EntityManager, slug: string): Promise<{ rrule: string; template_event_id: string | null } | undefined> {
  const [s] = await m.query(`SELECT rrule, template_event_id FROM event_series WHERE slug = $1 FOR UPDATE`, [slug]);
  return s;
}

export const seriesOfGroup = async (q: Q, groupId: string): Promise<string[]> =>
  (await q.query(`SELECT slug FROM event_series WHERE group_id = $1 ORDER BY slug`, [groupId])).map((r: { slug: string }) => r.slug);

export async function deleteSeriesRows(m: EntityManager, slug: string): Promise<void> {
  await m.query(`DELETE FROM series_exceptions WHERE series_slug = $1`, [slug]);
  await m.query(`DELETE FROM event_series WHERE slug = $1`, [slug]);
}

/** The template's role moves to another occurrence. */
export async function moveTemplate(m: EntityManager, slug: string, eventId: string): Promise<void> {
  await m.query(`UPDATE event_series SET template_event_id = $2, updated_at = now() WHERE slug = $1`, [slug, eventId]);
}

/** The tombstone: no more materialization, no new occurrences. Answers the series' id, or null when it is gone. */
export async function tombstoneSeries(q: Q, slug: string): Promise<string | null> {
  const [row] = await changedRows(q, `UPDATE event_series SET status = 'deleting', updated_at = now() WHERE slug = $1 RETURNING id`, [slug]);
  return row?.id ?? null;
}

/** The series ends with `rule` (an UNTIL); `templateId` keeps a template in the part that stays. */
export async function endRule(m: EntityManager, slug: string, rule: string, templateId: string): Promise<void> {
  await m.query(`UPDATE event_series SET rrule = $2, template_event_id = $3, updated_at = now() WHERE slug = $1`, [slug, rule, templateId]);
}

/** The live occurrence nearest to now other than `exceptId`, upcoming ones first. */
export async function nearestOtherOccurrence(m: EntityManager, slug: string, exceptId: string): Promise<string | null> {
  const [next] = await m.query(
    `SELECT id FROM events WHERE series_slug = $1 AND id <> $2 AND status <> 'deleting'
      ORDER BY (start_at < now()), abs(extract(epoch FROM start_at - now())) LIMIT 1`, [slug, exceptId]);
  return next?.id ?? null;
}

/** The latest live occurrence that starts before `at`. */
export async function lastOccurrenceBefore(m: EntityManager, slug: string, at: string): Promise<string | null> {
  const [past] = await m.query(
    `SELECT id FROM events WHERE series_slug = $1 AND start_at < $2 AND status <> 'deleting' ORDER BY start_at DESC LIMIT 1`, [slug, at]);
  return past?.id ?? null;
}

export async function seriesStatus(q: Q, slug: string): Promise<string | null> {
  const [series] = await q.query(`SELECT status FROM event_series WHERE slug = $1`, [slug]);
  return series?.status ?? null;
}

/** The fields of a series' template that decide what follows a change (publication, chat). */
export async function templateOfSeries(q: Q, slug: string) {
  const [template] = await q.query(
    `SELECT t.slug, t.owner_id AS "ownerId", t.series_slug AS "seriesSlug", t.source_type AS "sourceType",
            t.publish_to_bluesky AS "publishToBluesky", t.chat_enabled AS "chatEnabled"
       FROM event_series s JOIN events t ON t.id = s.template_event_id WHERE s.slug = $1`, [slug]);
  return template as { slug: string; ownerId: string; seriesSlug: string | null; sourceType: string | null; publishToBluesky: boolean | null; chatEnabled: boolean } | undefined;
}

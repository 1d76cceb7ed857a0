import type { EntityManager } from 'typeorm';
import { changedRows } from './changed-rows.ts';
import { copyRoles } from './event-roles.ts';
import { CAPACITY_RAISED, seatsFreed, type Raised } from './events.ts';

/**
 * The statements of series materialization: the occurrence rows of `events` that a series'
 * rule, template and exceptions make. Each runs inside the materializer's transaction, under the
 * series' row lock.
 */

/** Fields every occurrence takes from the template event (occurrence zero). */
const TEMPLATE_FIELDS = ['name', 'description', 'time_zone', 'visibility', 'owner_id', 'group_id', 'capacity', 'chat_enabled',
  'location', 'online_url', 'country', 'publish_to_bluesky'] as const;

export interface SeriesToMaterialize {
  slug: string; rrule: string; dtstart: Date; duration_minutes: number; time_zone: string; template_event_id: string; status: string;
}

export async function lockSeriesToMaterialize(m: EntityManager, slug: string): Promise<SeriesToMaterialize | undefined> {
  const [series] = await m.query(
    `SELECT slug, rrule, dtstart, duration_minutes, time_zone, template_event_id, status
       FROM event_series WHERE slug = $1 FOR UPDATE`, [slug]);
  return series;
}

export async function templateOf(m: EntityManager, eventId: string): Promise<{ id: string; original_start: Date } | undefined> {
  const [template] = await m.query(`SELECT id, original_start FROM events WHERE id = $1`, [eventId]);
  return template;
}

/** The original starts of the series' exceptions, in ms. */
export async function exceptedStarts(m: EntityManager, slug: string): Promise<Set<number>> {
  return new Set((await m.query(`SELECT original_start FROM series_exceptions WHERE series_slug = $1`, [slug]))
    .map((r: { original_start: Date }) => r.original_start.getTime()));
}

/** Future occurrences that are the materializer's to manage: not the template, not an exception. */
export function managedOccurrences(m: EntityManager, slug: string, from: Date, templateId: string): Promise<{ id: string; original_start: Date; attendees: number }[]> {
  return m.query(
    `SELECT e.id, e.original_start,
            (SELECT coalesce(sum(t.n), 0)::int FROM attendee_tallies t WHERE t.event_id = e.id AND t.status <> 'cancelled') AS attendees
       FROM events e
      WHERE e.series_slug = $1 AND e.original_start >= $2 AND e.id <> $3 AND e.status <> 'deleting'
        AND NOT EXISTS (SELECT 1 FROM series_exceptions x WHERE x.series_slug = e.series_slug AND x.original_start = e.original_start)`,
    [slug, from, templateId]);
}

/** Cancels occurrences that left the rule but have people signed up; answers how many changed. */
export async function cancelOccurrences(m: EntityManager, ids: string[]): Promise<number> {
  if (!ids.length) return 0;
  return (await changedRows(m, `UPDATE events SET status = 'cancelled', updated_at = now() WHERE id = ANY($1::uuid[]) AND status <> 'cancelled' RETURNING id`, [ids])).length;
}

/** Deletes occurrences that left the rule and nobody signed up for (nor has a room); answers how many. */
export async function deleteEmptyOccurrences(m: EntityManager, ids: string[]): Promise<number> {
  if (!ids.length) return 0;
  return (await changedRows(m,
    `WITH gone AS (SELECT e.id FROM events e WHERE e.id = ANY($1::uuid[])
          AND NOT EXISTS (SELECT 1 FROM attendees a WHERE a.event_id = e.id)
          AND NOT EXISTS (SELECT 1 FROM chat_rooms c WHERE c.event_id = e.id)),
          roles AS (DELETE FROM event_roles WHERE event_id IN (SELECT id FROM gone))
     DELETE FROM events WHERE id IN (SELECT id FROM gone) RETURNING id`, [ids])).length;
}

/**
 * Unmodified occurrences follow the template (targeted columns, only where they differ). Answers
 * which changed, and the slugs of those where that freed seats (`seatsFreed`).
 */
export async function followTemplate(
  m: EntityManager, ids: string[], templateId: string, durationMinutes: number,
): Promise<{ changed: string[]; seatsFreed: string[] }> {
  if (!ids.length) return { changed: [], seatsFreed: [] };
  const sets = TEMPLATE_FIELDS.map((f) => `${f} = t.${f}`).join(', ');
  const differs = TEMPLATE_FIELDS.map((f) => `e.${f} IS DISTINCT FROM t.${f}`).join(' OR ');
  // `o`: the occurrences that differ, locked first and read as they are once locked (CAPACITY_RAISED
  // says why); those that do not differ are neither locked nor written.
  const rows = await changedRows<Raised & { slug: string }>(m,
    `UPDATE events e SET ${sets}, start_at = e.original_start, end_at = e.original_start + $3 * interval '1 minute',
            status = CASE WHEN e.status = 'cancelled' THEN t.status ELSE e.status END, updated_at = now()
       FROM events t,
            (SELECT e.id, e.capacity FROM events e, events t
              WHERE t.id = $2 AND e.id = ANY($1::uuid[])
                AND (${differs} OR e.start_at <> e.original_start OR e.end_at <> e.original_start + $3 * interval '1 minute'
                     OR (e.status = 'cancelled' AND t.status <> 'cancelled'))
                FOR UPDATE OF e) o
      WHERE t.id = $2 AND o.id = e.id
     RETURNING e.id, e.slug, ${CAPACITY_RAISED} AS raised`,
    [ids, templateId, durationMinutes]);
  return { changed: rows.map((r) => r.slug), seatsFreed: (await seatsFreed(m, rows)).map((r) => r.slug) };
}

/**
 * Creates the occurrences at `starts` from the template, with its roles (bulk; one already there is
 * left alone); answers how many.
 */
export async function insertOccurrences(m: EntityManager, seriesSlug: string, starts: { slug: string; start: Date }[], templateId: string, durationMinutes: number): Promise<number> {
  if (!starts.length) return 0;
  const created: { id: string }[] = await m.query(
    `INSERT INTO events (slug, series_slug, original_start, start_at, end_at, status, ${TEMPLATE_FIELDS.join(', ')})
     SELECT o.slug, $1, o.start, o.start, o.start + $4 * interval '1 minute', CASE WHEN t.status = 'draft' THEN 'draft' ELSE 'published' END,
            ${TEMPLATE_FIELDS.map((f) => `t.${f}`).join(', ')}
       FROM unnest($2::text[], $3::timestamptz[]) AS o(slug, start), events t
      WHERE t.id = $5
     ON CONFLICT (series_slug, original_start) DO NOTHING RETURNING id`,
    [seriesSlug, starts.map((s) => s.slug), starts.map((s) => s.start), durationMinutes, templateId]);
  await copyRoles(m, templateId, created.map((e) => e.id));
  return created.length;
}

export async function setMaterializedUntil(m: EntityManager, slug: string, until: Date): Promise<void> {
  await m.query(`UPDATE event_series SET materialized_until = $2, updated_at = now() WHERE slug = $1`, [slug, until]);
}

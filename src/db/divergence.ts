import type { DataSource } from 'typeorm';
import { publishes } from './event-records.ts';

/**
 * The read-only queries of reconciliation: rows out of step with the workflows that should act on
 * them (a follow-up lost before the outbox existed, an operator's terminate, a bug). Each answers
 * at most `limit` entity keys (`slug`; a publication: its owner's id, and the event's slug).
 */
export const DIVERGENCE = {
  /** A free seat while people wait. */
  waitlists: `
    SELECT e.slug FROM events e
     WHERE e.status = 'published' AND e.capacity IS NOT NULL
       AND EXISTS (SELECT 1 FROM attendees a WHERE a.event_id = e.id AND a.status = 'waitlisted')
       AND (SELECT count(*) FROM attendees a WHERE a.event_id = e.id AND a.status = 'confirmed') < e.capacity
     LIMIT $1`,
  /** A chat-enabled event that has not ended, without its room. */
  eventRooms: `
    SELECT e.slug FROM events e
     WHERE e.chat_enabled AND e.status = 'published' AND e.end_at > now()
       AND NOT EXISTS (SELECT 1 FROM chat_rooms c WHERE c.event_id = e.id AND c.status = 'active')
     LIMIT $1`,
  /** A chat-enabled group without its room. */
  groupRooms: `
    SELECT g.slug FROM groups g
     WHERE g.chat_enabled AND g.status = 'active'
       AND NOT EXISTS (SELECT 1 FROM chat_rooms c WHERE c.group_id = g.id AND c.status = 'active')
     LIMIT $1`,
  /** A publishable single event without its record. */
  publications: `
    SELECT e.owner_id AS slug, e.slug AS event FROM events e JOIN users u ON u.id = e.owner_id
     WHERE ${publishes('e', 'u')}
       AND e.source_type IS NULL AND e.series_slug IS NULL AND e.visibility = 'public'
       AND e.status = 'published' AND e.bluesky_uri IS NULL AND e.end_at > now()
     LIMIT $1`,
  /** A publishing series with an upcoming occurrence and no record for any upcoming one. */
  seriesPublications: `
    SELECT s.slug FROM event_series s JOIN events t ON t.id = s.template_event_id JOIN users u ON u.id = s.owner_id
     WHERE s.status = 'active' AND ${publishes('t', 'u')}
       AND EXISTS (SELECT 1 FROM events e WHERE e.series_slug = s.slug AND e.status = 'published' AND e.end_at > now())
       AND NOT EXISTS (SELECT 1 FROM events e WHERE e.series_slug = s.slug AND e.bluesky_uri IS NOT NULL AND e.end_at > now())
     LIMIT $1`,
} as const;

export function divergent(ds: DataSource, check: keyof typeof DIVERGENCE, limit: number): Promise<{ slug: string; event?: string }[]> {
  return ds.query(DIVERGENCE[check], [limit]);
}

/** Active series whose horizon is short of `days` from now (or never materialized), most behind first. */
export function seriesShortOfHorizon(ds: DataSource, days: number, limit: number): Promise<{ slug: string; rrule: string; dtstart: Date; time_zone: string; materialized_until: Date | null }[]> {
  return ds.query(
    `SELECT slug, rrule, dtstart, time_zone, materialized_until FROM event_series
      WHERE status = 'active' AND (materialized_until IS NULL OR materialized_until < now() + make_interval(days => $2))
      ORDER BY materialized_until NULLS FIRST LIMIT $1`, [limit, days]);
}

/** Tombstones (status `deleting`) of `table` untouched for `staleMinutes`. */
export async function staleTombstones(ds: DataSource, table: 'events' | 'event_series' | 'groups', staleMinutes: number, limit: number): Promise<string[]> {
  return (await ds.query(
    `SELECT slug FROM ${table} WHERE status = 'deleting' AND updated_at < now() - make_interval(mins => $2) LIMIT $1`, [limit, staleMinutes]))
    .map((r: { slug: string }) => r.slug);
}

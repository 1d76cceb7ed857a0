import type { DataSource, EntityManager } from 'typeorm';
import { withWaitlist } from './attendee-tallies.ts';
import { changedRows } from './changed-rows.ts';
import { EventEntity, type Event } from './entities/event.ts';
import { asEntity, prepared } from './prepared.ts';

/** The `events` table: every statement that writes it, and the reads the API and activities share. */
type Q = DataSource | EntityManager;

/** The fields an organizer edits, by API name, and their columns. */
export const EVENT_COLUMNS = {
  name: 'name', description: 'description', startAt: 'start_at', endAt: 'end_at', timeZone: 'time_zone',
  capacity: 'capacity', chatEnabled: 'chat_enabled', publishToBluesky: 'publish_to_bluesky',
  location: 'location', onlineUrl: 'online_url', country: 'country', status: 'status',
} as const;
export type EditableField = keyof typeof EVENT_COLUMNS;

/**
 * API field names to `events` columns, for targeted updates. Instants become Dates: Postgres
 * refuses some offsets RFC 3339 allows (e.g. +19:26), JavaScript reads them all.
 */
export function eventColumns(fields: Partial<Record<EditableField, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) =>
    [EVENT_COLUMNS[k as EditableField], (k === 'startAt' || k === 'endAt') && typeof v === 'string' ? new Date(v) : v]));
}

/**
 * `col = $2, other = $3` for the given columns (undefined ones left out), to follow `$1`: only
 * what changes is written, never a save of a stale whole entity.
 */
export function setClause(columns: Record<string, unknown>): { sql: string; values: unknown[] } {
  const entries = Object.entries(columns).filter(([, v]) => v !== undefined);
  return { sql: entries.map(([k], i) => `${k} = $${i + 2}`).join(', '), values: entries.map(([, v]) => v) };
}

export interface EventFilter {
  from: Date; to?: Date; groupSlug?: string; ownerSlug?: string;
  /** Drafts only of this user (theirs, or their groups' as owner or admin); undefined: every draft. */
  draftsOf?: string;
  /** Keyset paging: after this (start, slug). */
  after?: { startAt: Date; slug: string };
  limit: number;
}

/** Live events by start time. */
export function listEvents(q: Q, f: EventFilter): Promise<Event[]> {
  const qb = q.getRepository(EventEntity).createQueryBuilder('e').where(`e.status <> 'deleting'`)
    .andWhere('e.start_at >= :from', { from: f.from })
    .orderBy('e.start_at', 'ASC').addOrderBy('e.slug', 'ASC').limit(f.limit);
  if (f.to) qb.andWhere('e.start_at < :to', { to: f.to });
  if (f.after) qb.andWhere('(e.start_at, e.slug) > (:afterStart, :afterSlug)', { afterStart: f.after.startAt, afterSlug: f.after.slug });
  if (f.groupSlug) qb.andWhere('e.group_id = (SELECT id FROM groups WHERE slug = :g)', { g: f.groupSlug });
  if (f.ownerSlug) qb.andWhere('e.owner_id = (SELECT id FROM users WHERE slug = :owner)', { owner: f.ownerSlug });
  if (f.draftsOf !== undefined) {
    qb.andWhere(`(e.status <> 'draft' OR e.owner_id::text = :me OR EXISTS (SELECT 1 FROM group_members gm
      WHERE gm.group_id = e.group_id AND gm.user_id::text = :me AND gm.role IN ('owner', 'admin')))`, { me: f.draftsOf });
  }
  return qb.getMany();
}

/** Locks the event row (seat decisions and role changes of one event happen one at a time); undefined when it is gone. */
export async function lockEvent(m: EntityManager, slug: string): Promise<{ id: string; capacity: number | null; status: string; chat_enabled: boolean } | undefined> {
  const [event] = await m.query(`SELECT id, capacity, status, chat_enabled FROM events WHERE slug = $1 FOR UPDATE`, [slug]);
  return event;
}

const EVENT_BY_SLUG = prepared<Event>(`SELECT ${asEntity(EventEntity)} FROM events WHERE slug = $1`);

/** The event with this slug, a tombstoned one too. */
export async function eventBySlug(q: Q, slug: string): Promise<Event | null> {
  const [event] = await EVENT_BY_SLUG(q, [slug]);
  return event ?? null;
}

export async function insertEvent(m: EntityManager, fields: Omit<Partial<Event>, 'id'>): Promise<Event> {
  const repo = m.getRepository(EventEntity);
  return repo.save(repo.create(fields));
}

/**
 * Writes `columns` of a live event (a tombstoned one is left alone); answers the row after and
 * whether that freed seats (`seatsFreed`), or null when there is none. `forgetSourceCid`: an
 * ingested event edited here, so the next change of its record applies again.
 */
export async function updateLiveEvent(
  m: EntityManager, slug: string, columns: Record<string, unknown>, forgetSourceCid = false,
): Promise<{ event: Event; seatsFreed: boolean } | null> {
  const set = setClause(columns);
  const rows = await changedRows<Raised>(m,
    `UPDATE events e SET ${set.sql}${forgetSourceCid ? ', source_cid = NULL' : ''}, updated_at = now()
      FROM ${lockedBefore('slug = $1')} WHERE o.id = e.id AND e.status <> 'deleting' RETURNING e.id, ${CAPACITY_RAISED} AS raised`,
    [slug, ...set.values]);
  const event = rows.length ? await eventBySlug(m, slug) : null; // in this transaction: the row just written
  return event && { event, seatsFreed: (await seatsFreed(m, rows)).length > 0 };
}

/**
 * In an `UPDATE events e … FROM ${lockedBefore(where)} WHERE o.id = e.id` (or a locking sub-select
 * of its own, as `followTemplate`'s): the update raised the capacity.
 * `o` is each row as it was once the statement held its lock. A plain `FROM events o` reads the
 * statement's snapshot: an edit that lowered the capacity while this one waited for the lock would
 * make setting it back up look like no raise, and nobody waiting would be woken.
 */
export const CAPACITY_RAISED = 'o.capacity IS NOT NULL AND (e.capacity IS NULL OR e.capacity > o.capacity)';
export const lockedBefore = (where: string) => `(SELECT id, capacity FROM events WHERE ${where} FOR UPDATE) o`;
export interface Raised { id: string; raised: boolean }

/**
 * Those of the updated events whose capacity the update raised (`raised`: CAPACITY_RAISED) while
 * people wait on their waitlists: seats are free for them now. Asked in a statement after the
 * update, under the row locks it took: an RSVP that held a lock meanwhile (and put someone on the
 * waitlist) has committed by then, while the update's own RETURNING reads the snapshot taken
 * before it waited for that lock, and would miss them.
 */
export async function seatsFreed<R extends Raised>(q: Q, rows: R[]): Promise<R[]> {
  const waiting = await withWaitlist(q, rows.filter((r) => r.raised).map((r) => r.id));
  return rows.filter((r) => waiting.has(r.id));
}

/** Writes `columns` of the event with this id (nothing when there are none); answers whether that freed seats (`seatsFreed`). */
export async function updateEventById(m: Q, id: string, columns: Record<string, unknown>): Promise<{ seatsFreed: boolean }> {
  const set = setClause(columns);
  if (!set.values.length) return { seatsFreed: false };
  const rows = await changedRows<Raised>(m,
    `UPDATE events e SET ${set.sql}, updated_at = now() FROM ${lockedBefore('id = $1')} WHERE o.id = e.id RETURNING e.id, ${CAPACITY_RAISED} AS raised`,
    [id, ...set.values]);
  return { seatsFreed: (await seatsFreed(m, rows)).length > 0 };
}

/** The tombstone a cascade deletion sets first (the status before it is kept for an undo). */
export async function tombstoneEventRow(q: Q, slug: string) {
  const [event] = await changedRows<{ id: string; series_slug: string | null; original_start: Date | null; bluesky_uri: string | null }>(q,
    `UPDATE events SET status_before_delete = coalesce(status_before_delete, status), status = 'deleting', updated_at = now()
      WHERE slug = $1 RETURNING id, series_slug, original_start, bluesky_uri`, [slug]);
  return event ?? null;
}

/** The SQLSTATE `meetflow_delete_lone_event` raises for an event with more attendees than one step takes. */
const TOO_MANY_ATTENDEES = 'MF001';

/**
 * Deletes a lone event with its attendees in one statement, keeping its report under `runId`
 * (`meetflow_delete_lone_event`, migration 1764000000021): nothing of it outside the database,
 * and not an occurrence its series must be told about (`inSeriesDeletion`: the series goes as
 * well). Null, with nothing written, when it is not one, is gone, or has more than `maxAttendees`.
 */
export async function deleteLoneEvent<Report>(q: Q, p: { slug: string; inSeriesDeletion: boolean; maxAttendees: number; runId: string }): Promise<Report | null> {
  try {
    const [{ report }] = await q.query(`SELECT meetflow_delete_lone_event($1, $2, $3, $4) AS report`, [p.slug, p.inSeriesDeletion, p.maxAttendees, p.runId]);
    return report;
  } catch (err) {
    if ((err as { code?: string }).code === TOO_MANY_ATTENDEES) return null;
    throw err;
  }
}

/** Undoes the tombstone; answers the event's id, or null when it was not tombstoned. */
export async function restoreEventRow(m: EntityManager, slug: string): Promise<string | null> {
  const [event] = await changedRows<{ id: string }>(m,
    `UPDATE events SET status = coalesce(status_before_delete, status), status_before_delete = NULL, updated_at = now()
      WHERE slug = $1 AND status = 'deleting' RETURNING id`, [slug]);
  return event?.id ?? null;
}

/**
 * The event's rows, in one statement (`meetflow_remove_event`): its attendees too with
 * `withAttendees`, else it refuses while any are left; its place as a template, its room row,
 * its roles, the event.
 */
export async function removeEvent(q: Q, eventId: string, withAttendees: boolean): Promise<void> {
  await q.query(`SELECT meetflow_remove_event($1, $2)`, [eventId, withAttendees]);
}

/** The next page of event slugs of a series (from a time on) or of a group (its single events). */
export async function eventSlugsPage(q: Q, scope: { seriesSlug: string; from?: string } | { groupId: string }, afterSlug: string | null, limit: number): Promise<string[]> {
  const rows = 'seriesSlug' in scope
    ? await q.query(
      `SELECT slug FROM events WHERE series_slug = $1 AND ($2::timestamptz IS NULL OR start_at >= $2)
          AND ($3::text IS NULL OR slug > $3) ORDER BY slug LIMIT $4`,
      [scope.seriesSlug, scope.from ?? null, afterSlug, limit])
    : await q.query(
      `SELECT slug FROM events WHERE group_id = $1 AND series_slug IS NULL AND ($2::text IS NULL OR slug > $2) ORDER BY slug LIMIT $3`,
      [scope.groupId, afterSlug, limit]);
  return rows.map((r: { slug: string }) => r.slug);
}

export async function eventCountInGroup(q: Q, groupId: string): Promise<number> {
  const [left] = await q.query(`SELECT count(*)::int AS n FROM events WHERE group_id = $1`, [groupId]);
  return left.n;
}

export async function eventStart(q: Q, eventId: string): Promise<Date | null> {
  const [e] = await q.query(`SELECT start_at FROM events WHERE id = $1`, [eventId]);
  return e?.start_at ?? null;
}

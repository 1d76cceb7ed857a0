import type { DataSource, EntityManager } from 'typeorm';
import { changedRows } from './changed-rows.ts';
import { EventEntity, type Event } from './entities/event.ts';

/** The `events` table: every statement that writes it, and the reads the API and activities share. */
type Q = DataSource | EntityManager;

/**
 * The publication rule, as SQL over an event (or series template) row `e` and its owner `u`: the
 * owner is connected, and the event's own choice (true, or false to opt out) or else the owner's
 * auto-publish preference says yes. Every place that decides publication uses this one.
 */
export const publishes = (e: string, u: string) => `(${u}.bluesky_connected AND coalesce(${e}.publish_to_bluesky, ${u}.bluesky_auto_publish))`;

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
  limit: number;
}

/** Live events by start time. */
export function listEvents(q: Q, f: EventFilter): Promise<Event[]> {
  const qb = q.getRepository(EventEntity).createQueryBuilder('e').where(`e.status <> 'deleting'`)
    .andWhere('e.start_at >= :from', { from: f.from })
    .orderBy('e.start_at', 'ASC').addOrderBy('e.slug', 'ASC').limit(f.limit);
  if (f.to) qb.andWhere('e.start_at < :to', { to: f.to });
  if (f.groupSlug) qb.andWhere('e.group_id = (SELECT id FROM groups WHERE slug = :g)', { g: f.groupSlug });
  if (f.ownerSlug) qb.andWhere('e.owner_id = (SELECT id FROM users WHERE slug = :owner)', { owner: f.ownerSlug });
  if (f.draftsOf !== undefined) {
    qb.andWhere(`(e.status <> 'draft' OR e.owner_id::text = :me OR EXISTS (SELECT 1 FROM group_members gm
      WHERE gm.group_id = e.group_id AND gm.user_id::text = :me AND gm.role IN ('owner', 'admin')))`, { me: f.draftsOf });
  }
  return qb.getMany();
}

/** Locks the event row (seat decisions and role changes of one event happen one at a time); undefined when it is gone. */
export async function lockEvent(m: EntityManager, slug: string): Promise<{ id: string; capacity: number | null; status: string } | undefined> {
  const [event] = await m.query(`SELECT id, capacity, status FROM events WHERE slug = $1 FOR UPDATE`, [slug]);
  return event;
}

/** The event with this slug, a tombstoned one too. */
export const eventBySlug = (q: Q, slug: string): Promise<Event | null> => q.getRepository(EventEntity).findOneBy({ slug });

export async function insertEvent(m: EntityManager, fields: Omit<Partial<Event>, 'id'>): Promise<Event> {
  const repo = m.getRepository(EventEntity);
  return repo.save(repo.create(fields));
}

/**
 * Writes `columns` of a live event (a tombstoned one is left alone); answers the row after, or
 * null when there is none. `forgetSourceCid`: an ingested event edited here, so the next change
 * of its record applies again.
 */
export async function updateLiveEvent(m: EntityManager, slug: string, columns: Record<string, unknown>, forgetSourceCid = false): Promise<Event | null> {
  const set = setClause(columns);
  const rows = await changedRows(m,
    `UPDATE events SET ${set.sql}${forgetSourceCid ? ', source_cid = NULL' : ''}, updated_at = now()
      WHERE slug = $1 AND status <> 'deleting' RETURNING id`, [slug, ...set.values]);
  return rows.length ? m.getRepository(EventEntity).findOneByOrFail({ slug }) : null;
}

/** Writes `columns` of the event with this id (nothing when there are none). */
export async function updateEventById(m: Q, id: string, columns: Record<string, unknown>): Promise<void> {
  const set = setClause(columns);
  if (set.values.length) await m.query(`UPDATE events SET ${set.sql}, updated_at = now() WHERE id = $1`, [id, ...set.values]);
}

/** The event's record key, chosen once (a retry writes the same record). */
export async function recordKeyOf(q: Q, eventId: string, fresh: string): Promise<string> {
  await q.query(`UPDATE events SET bluesky_rkey = $2 WHERE id = $1 AND bluesky_rkey IS NULL`, [eventId, fresh]);
  const [{ bluesky_rkey: rkey }] = await q.query(`SELECT bluesky_rkey FROM events WHERE id = $1`, [eventId]);
  return rkey;
}

/** The event's record on its owner's PDS: written (uri and cid) or gone (null). */
export async function setEventRecord(q: Q, eventId: string, record: { uri: string; cid: string } | null): Promise<void> {
  if (record) {
    await q.query(`UPDATE events SET bluesky_uri = $2, bluesky_cid = $3, bluesky_published_at = now(), updated_at = now() WHERE id = $1`,
      [eventId, record.uri, record.cid]);
  } else {
    await q.query(`UPDATE events SET bluesky_uri = NULL, bluesky_cid = NULL, updated_at = now() WHERE id = $1`, [eventId]);
  }
}

/** The tombstone a cascade deletion sets first (the status before it is kept for an undo). */
export async function tombstoneEventRow(q: Q, slug: string) {
  const [event] = await changedRows<{ id: string; series_slug: string | null; original_start: Date | null; bluesky_uri: string | null }>(q,
    `UPDATE events SET status_before_delete = coalesce(status_before_delete, status), status = 'deleting', updated_at = now()
      WHERE slug = $1 RETURNING id, series_slug, original_start, bluesky_uri`, [slug]);
  return event ?? null;
}

/** Undoes the tombstone; answers the event's id, or null when it was not tombstoned. */
export async function restoreEventRow(m: EntityManager, slug: string): Promise<string | null> {
  const [event] = await changedRows<{ id: string }>(m,
    `UPDATE events SET status = coalesce(status_before_delete, status), status_before_delete = NULL, updated_at = now()
      WHERE slug = $1 AND status = 'deleting' RETURNING id`, [slug]);
  return event?.id ?? null;
}

/** An event from the network, as ingest applies it. */
export interface NetworkEvent {
  sourceId: string; sourceCid: string | null; sourceUrl: string | null; did: string; rkey: string;
  name: string; description: string | null; startAt: Date; endAt: Date; timeZone: string;
  location: string | null; onlineUrl: string | null; country: string | null; status: string;
}

/**
 * Finds the row of a record from the network, locked: by source id (AT-URI), then source URL,
 * then the author's rkey, among that author's ingested events only.
 */
export async function lockNetworkEvent(m: EntityManager, e: Pick<NetworkEvent, 'sourceId' | 'sourceUrl' | 'did' | 'rkey'>) {
  const [found] = await m.query(
    `SELECT id, slug, source_id, source_cid FROM events
      WHERE (source_type = 'bluesky' AND source_id = $1)
         OR (source_did = $3 AND (($2::text IS NOT NULL AND source_url = $2) OR source_rkey = $4))
      ORDER BY (source_id = $1) DESC NULLS LAST LIMIT 1 FOR UPDATE`, [e.sourceId, e.sourceUrl, e.did, e.rkey]);
  return found as { id: string; slug: string; source_id: string | null; source_cid: string | null } | undefined;
}

const networkFields = (e: NetworkEvent) =>
  [e.name, e.description, e.startAt, e.endAt, e.timeZone, e.location, e.onlineUrl, e.status, e.sourceCid, e.sourceUrl, e.country];

/** The record's fields over the row's (a tombstone stays one). */
export async function updateNetworkEvent(m: EntityManager, id: string, e: NetworkEvent): Promise<void> {
  await m.query(
    `UPDATE events SET name = $2, description = $3, start_at = $4, end_at = $5, time_zone = $6, location = $7, online_url = $8,
            status = CASE WHEN status = 'deleting' THEN status ELSE $9 END, source_cid = $10, source_url = COALESCE($11, source_url),
            country = $12, source_type = 'bluesky', source_id = $13, source_did = $14, source_rkey = $15, updated_at = now()
      WHERE id = $1`, [id, ...networkFields(e), e.sourceId, e.did, e.rkey]);
}

/** A new row for a record from the network; null when another writer inserted it meanwhile. */
export async function insertNetworkEvent(m: EntityManager, e: NetworkEvent, slug: string, ownerId: string): Promise<string | null> {
  const [row] = await m.query(
    `INSERT INTO events (name, description, start_at, end_at, time_zone, location, online_url, status, source_cid, source_url,
                         country, slug, owner_id, source_type, source_id, source_did, source_rkey)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'bluesky', $14, $15, $16)
     ON CONFLICT (source_type, source_id) DO NOTHING RETURNING slug`,
    [...networkFields(e), slug, ownerId, e.sourceId, e.did, e.rkey]);
  return row?.slug ?? null;
}

/** The event's own rows last (its roles, then the event; exceptions let go by their FK). */
export async function deleteEventRows(m: EntityManager, eventId: string): Promise<void> {
  await m.query(`DELETE FROM event_roles WHERE event_id = $1`, [eventId]);
  await m.query(`DELETE FROM events WHERE id = $1`, [eventId]);
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

/** The event a record on the network names: one ingested from it, or one meetflow published there. */
export async function eventOfRecord(q: Q, uri: string): Promise<{ id: string; slug: string } | undefined> {
  const [event] = await q.query(`SELECT id, slug FROM events WHERE (source_type = 'bluesky' AND source_id = $1) OR bluesky_uri = $1`, [uri]);
  return event;
}

/** The event meetflow published as this record, if any. */
export async function eventPublishedAs(q: Q, uri: string): Promise<{ slug: string; seriesSlug: string | null; bluesky_cid: string | null } | undefined> {
  const [event] = await q.query(`SELECT slug, series_slug AS "seriesSlug", bluesky_cid FROM events WHERE bluesky_uri = $1`, [uri]);
  return event;
}

/** The slug of the event ingested from this record, if any. */
export async function eventIngestedFrom(q: Q, sourceId: string): Promise<string | null> {
  const [e] = await q.query(`SELECT slug FROM events WHERE source_type = 'bluesky' AND source_id = $1`, [sourceId]);
  return e?.slug ?? null;
}

/** The user's own events that their publication rule puts on the network (published or cancelled, public, not ingested). */
export function publishableEventsOf(q: Q, userId: string): Promise<{ id: string; slug: string; series_slug: string | null; bluesky_uri: string | null }[]> {
  return q.query(
    `SELECT e.id, e.slug, e.series_slug, e.bluesky_uri FROM events e JOIN users u ON u.id = e.owner_id
      WHERE e.owner_id = $1 AND e.source_type IS NULL AND e.visibility = 'public' AND e.status IN ('published', 'cancelled')
        AND ${publishes('e', 'u')} AND (e.series_slug IS NULL OR e.end_at > now())`, [userId]);
}

/** An event row with its owner's DID and connection, as the publisher reads it. */
export type EventToPublish = Record<string, any> & { id: string; slug: string; owner_did: string | null; bluesky_connected: boolean };
const EVENT_TO_PUBLISH = `SELECT e.*, u.did AS owner_did, u.bluesky_connected FROM events e JOIN users u ON u.id = e.owner_id`;

export async function eventToPublish(q: Q, slug: string): Promise<EventToPublish | undefined> {
  const [e] = await q.query(`${EVENT_TO_PUBLISH} WHERE e.slug = $1`, [slug]);
  return e;
}

/** A series' live occurrences that end after `asOf`, by start. */
export function upcomingOccurrencesToPublish(q: Q, seriesSlug: string, asOf: string): Promise<EventToPublish[]> {
  return q.query(`${EVENT_TO_PUBLISH} WHERE e.series_slug = $1 AND e.end_at > $2 AND e.status <> 'deleting' ORDER BY e.start_at`, [seriesSlug, asOf]);
}

/** The event's record on its owner's PDS, if it has one. */
export async function eventRecordOf(q: Q, eventId: string): Promise<{ bluesky_rkey: string; bluesky_uri: string | null; did: string | null } | undefined> {
  const [e] = await q.query(`SELECT e.bluesky_rkey, e.bluesky_uri, u.did FROM events e JOIN users u ON u.id = e.owner_id WHERE e.id = $1`, [eventId]);
  return e;
}

/** Does the publication rule say yes for an event of this owner with this choice (publish_to_bluesky)? */
export async function rulePublishes(q: Q, ownerId: string, choice: boolean | null): Promise<boolean> {
  const [rule] = await q.query(
    `SELECT ${publishes('e', 'u')} AS yes FROM users u, (SELECT $2::boolean AS publish_to_bluesky) e WHERE u.id = $1`, [ownerId, choice]);
  return rule?.yes === true;
}

/** Is the event on the network: published by meetflow, or ingested from a record? */
export async function isOnNetwork(q: Q, slug: string): Promise<boolean> {
  const [row] = await q.query(`SELECT 1 FROM events WHERE slug = $1 AND (bluesky_uri IS NOT NULL OR source_type = 'bluesky')`, [slug]);
  return row !== undefined;
}

import type { DataSource, EntityManager } from 'typeorm';
import { changedRows } from './changed-rows.ts';

/**
 * Events on the network: the record meetflow publishes of an event (its columns `bluesky_*`) and
 * the events ingested from records (`source_*`), with the publication rule that decides.
 */
type Q = DataSource | EntityManager;

/**
 * The publication rule, as SQL over an event (or series template) row `e` and its owner `u`: the
 * owner is connected, and the event's own choice (true, or false to opt out) or else the owner's
 * auto-publish preference says yes. Every place that decides publication uses this one.
 */
export const publishes = (e: string, u: string) => `(${u}.bluesky_connected AND coalesce(${e}.publish_to_bluesky, ${u}.bluesky_auto_publish))`;

/** The event's record key, chosen once (a retry writes the same record). */
export async function recordKeyOf(q: Q, eventId: string, fresh: string): Promise<string> {
  // One statement: the row lock makes a concurrent attempt read the key the first one chose.
  const [row] = await changedRows<{ bluesky_rkey: string }>(q,
    `UPDATE events SET bluesky_rkey = coalesce(bluesky_rkey, $2) WHERE id = $1 RETURNING bluesky_rkey`, [eventId, fresh]);
  return row.bluesky_rkey;
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

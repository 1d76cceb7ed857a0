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

/**
 * The events' record keys, each chosen once (a retry writes the same record): `fresh` is the key
 * offered for each event; one that already had a key keeps it. Answers each event's key by id.
 */
export async function recordKeysOf(q: Q, fresh: { id: string; rkey: string }[]): Promise<Map<string, string>> {
  if (!fresh.length) return new Map();
  // One statement: the row lock makes a concurrent attempt read the key the first one chose.
  const rows = await changedRows<{ id: string; bluesky_rkey: string }>(q,
    `UPDATE events e SET bluesky_rkey = coalesce(e.bluesky_rkey, v.rkey) FROM unnest($1::uuid[], $2::text[]) AS v(id, rkey)
      WHERE e.id = v.id RETURNING e.id, e.bluesky_rkey`, [fresh.map((f) => f.id), fresh.map((f) => f.rkey)]);
  return new Map(rows.map((r) => [r.id, r.bluesky_rkey]));
}

/**
 * Records written to the owner's PDS, saved on their events. An event being deleted is left as it
 * is: its deletion may already have looked for a record. Answers the ids of those left, whose
 * records the caller removes again.
 */
export async function setEventRecords(q: Q, written: { id: string; uri: string; cid: string }[]): Promise<string[]> {
  if (!written.length) return [];
  const saved = await changedRows<{ id: string }>(q,
    `UPDATE events e SET bluesky_uri = v.uri, bluesky_cid = v.cid, bluesky_published_at = now(), updated_at = now()
       FROM unnest($1::uuid[], $2::text[], $3::text[]) AS v(id, uri, cid)
      WHERE e.id = v.id AND e.status <> 'deleting' RETURNING e.id`,
    [written.map((w) => w.id), written.map((w) => w.uri), written.map((w) => w.cid)]);
  const ids = new Set(saved.map((r) => r.id));
  return written.filter((w) => !ids.has(w.id)).map((w) => w.id);
}

/** The event's record is gone from its owner's PDS. */
export async function clearEventRecord(q: Q, eventId: string): Promise<void> {
  await q.query(`UPDATE events SET bluesky_uri = NULL, bluesky_cid = NULL, updated_at = now() WHERE id = $1`, [eventId]);
}

/** An event from the network, as ingest applies it. */
export interface NetworkEvent {
  sourceId: string; sourceCid: string | null; sourceUrl: string | null; did: string; rkey: string;
  name: string; description: string | null; startAt: Date; endAt: Date; timeZone: string;
  location: string | null; onlineUrl: string | null; country: string | null; status: string;
}

/** What a record from the network did to the rows (`needsOwner`: its author has no user yet; nothing was written). */
export type NetworkEventOutcome =
  | { state: 'own'; slug: string } | { state: 'created' | 'updated' | 'unchanged'; slug: string } | { state: 'needsOwner' } | { state: 'raced' };

type NetworkRow = { event: NetworkEvent; slug: string };

/** The statement's input, one array per column: its name, SQL type and each record's value (one list: they stay in step). */
const INPUT: [column: string, type: string, value: (r: NetworkRow) => unknown][] = [
  ['name', 'text', (r) => r.event.name], ['description', 'text', (r) => r.event.description],
  ['start_at', 'timestamptz', (r) => r.event.startAt], ['end_at', 'timestamptz', (r) => r.event.endAt],
  ['time_zone', 'text', (r) => r.event.timeZone], ['location', 'text', (r) => r.event.location],
  ['online_url', 'text', (r) => r.event.onlineUrl], ['status', 'text', (r) => r.event.status],
  ['source_cid', 'text', (r) => r.event.sourceCid], ['source_url', 'text', (r) => r.event.sourceUrl],
  ['country', 'text', (r) => r.event.country], ['source_id', 'text', (r) => r.event.sourceId],
  ['did', 'text', (r) => r.event.did], ['rkey', 'text', (r) => r.event.rkey], ['slug', 'text', (r) => r.slug],
];

/**
 * Applies records from the network (distinct AT-URIs) to their rows in one statement (one round
 * trip, atomic), each as if alone:
 * - an event meetflow published as the record is left alone (`own`);
 * - else its row is found, locked, by source id (AT-URI), then source URL, then the author's rkey,
 *   among that author's ingested events only; the same record and CID again changes nothing;
 *   another version overwrites the fields (a tombstone stays one);
 * - else a row is inserted, owned by the DID's user (`needsOwner` when there is none yet, `raced`
 *   when another writer inserted the record meanwhile).
 *
 * Two records that would meet (one row found for both, or the same author's same source URL) are
 * not independent, so nothing is written and the answer is null: apply them one at a time.
 */
export async function applyNetworkEvents(q: Q, rows: NetworkRow[]): Promise<NetworkEventOutcome[] | null> {
  if (!rows.length) return [];
  const result: { n: string; own: string | null; found: string | null; updated: boolean; inserted: string | null; has_owner: boolean; meet: boolean }[] = await q.query(
    `WITH input AS (
            SELECT * FROM unnest(${INPUT.map(([, type], k) => `$${k + 1}::${type}[]`).join(', ')})
                     WITH ORDINALITY AS i(${INPUT.map(([column]) => column).join(', ')}, n)),
          matched AS (
            SELECT i.n, own.slug AS own, f.id, f.slug, f.source_id AS found_id, f.source_cid AS found_cid, u.id AS owner_id
              FROM input i
              LEFT JOIN events own ON own.bluesky_uri = i.source_id
              LEFT JOIN users u ON u.did = i.did
              LEFT JOIN LATERAL (
                SELECT e.id, e.slug, e.source_id, e.source_cid FROM events e
                 WHERE own.slug IS NULL
                   AND ((e.source_type = 'bluesky' AND e.source_id = i.source_id)
                        OR (e.source_did = i.did AND ((i.source_url IS NOT NULL AND e.source_url = i.source_url) OR e.source_rkey = i.rkey)))
                 ORDER BY (e.source_id = i.source_id) DESC NULLS LAST LIMIT 1 FOR UPDATE) f ON true),
          meet AS (
            SELECT 1 FROM matched WHERE id IS NOT NULL GROUP BY id HAVING count(*) > 1
            UNION ALL SELECT 1 FROM input WHERE source_url IS NOT NULL GROUP BY did, source_url HAVING count(*) > 1),
          upd AS (
            UPDATE events e SET name = i.name, description = i.description, start_at = i.start_at, end_at = i.end_at, time_zone = i.time_zone,
                   location = i.location, online_url = i.online_url, status = CASE WHEN e.status = 'deleting' THEN e.status ELSE i.status END,
                   source_cid = i.source_cid, source_url = COALESCE(i.source_url, e.source_url), country = i.country, source_type = 'bluesky',
                   source_id = i.source_id, source_did = i.did, source_rkey = i.rkey, updated_at = now()
              FROM matched m JOIN input i ON i.n = m.n
             WHERE e.id = m.id AND NOT EXISTS (SELECT 1 FROM meet)
               AND NOT (m.found_id IS NOT DISTINCT FROM i.source_id AND i.source_cid IS NOT NULL AND m.found_cid IS NOT DISTINCT FROM i.source_cid)
             RETURNING m.n),
          ins AS (
            INSERT INTO events (name, description, start_at, end_at, time_zone, location, online_url, status, source_cid, source_url,
                                country, source_type, source_id, source_did, source_rkey, slug, owner_id)
            SELECT i.name, i.description, i.start_at, i.end_at, i.time_zone, i.location, i.online_url, i.status, i.source_cid, i.source_url,
                   i.country, 'bluesky', i.source_id, i.did, i.rkey, i.slug, m.owner_id
              FROM matched m JOIN input i ON i.n = m.n
             WHERE m.own IS NULL AND m.id IS NULL AND m.owner_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM meet)
            ON CONFLICT (source_type, source_id) DO NOTHING RETURNING source_id, slug)
     SELECT m.n, m.own, m.slug AS found, upd.n IS NOT NULL AS updated, ins.slug AS inserted,
            m.owner_id IS NOT NULL AS has_owner, EXISTS (SELECT 1 FROM meet) AS meet
       FROM matched m JOIN input i ON i.n = m.n LEFT JOIN upd ON upd.n = m.n LEFT JOIN ins ON ins.source_id = i.source_id
      ORDER BY m.n`, INPUT.map(([, , value]) => rows.map(value)));
  if (result.some((r) => r.meet)) return null;
  return result.map((r): NetworkEventOutcome => {
    if (r.own) return { state: 'own', slug: r.own };
    if (r.found) return { state: r.updated ? 'updated' : 'unchanged', slug: r.found };
    if (r.inserted) return { state: 'created', slug: r.inserted };
    return r.has_owner ? { state: 'raced' } : { state: 'needsOwner' };
  });
}

/**
 * For an ingest quota: how many events each of `dids` has from the network, and which of
 * `sourceIds` already have their event (a change to one is never held back).
 */
export async function ingestedByAuthors(q: Q, dids: string[], sourceIds: string[]): Promise<{ counts: Map<string, number>; known: Set<string> }> {
  const [counts, known]: [{ did: string; n: number }[], { source_id: string }[]] = await Promise.all([
    q.query(`SELECT source_did AS did, count(*)::int AS n FROM events
              WHERE source_did = ANY($1::text[]) AND source_rkey IS NOT NULL AND source_type = 'bluesky' GROUP BY source_did`, [dids]),
    q.query(`SELECT source_id FROM events WHERE source_type = 'bluesky' AND source_id = ANY($1::text[])`, [sourceIds]),
  ]);
  return { counts: new Map(counts.map((c) => [c.did, c.n])), known: new Set(known.map((k) => k.source_id)) };
}

/** The event a record on the network names: one ingested from it, or one meetflow published there. */
export async function eventOfRecord(q: Q, uri: string): Promise<{ id: string; slug: string } | undefined> {
  const [event] = await q.query(`SELECT id, slug FROM events WHERE (source_type = 'bluesky' AND source_id = $1) OR bluesky_uri = $1`, [uri]);
  return event;
}

/** The event meetflow published as this record, if any. */
export async function eventPublishedAs(q: Q, uri: string): Promise<{ slug: string; ownerId: string; seriesSlug: string | null; bluesky_cid: string | null } | undefined> {
  const [event] = await q.query(`SELECT slug, owner_id AS "ownerId", series_slug AS "seriesSlug", bluesky_cid FROM events WHERE bluesky_uri = $1`, [uri]);
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

/** The events of these slugs that still exist, as the publisher reads them. */
export function eventsToPublish(q: Q, slugs: string[]): Promise<EventToPublish[]> {
  return q.query(`${EVENT_TO_PUBLISH} WHERE e.slug = ANY($1::text[])`, [slugs]);
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

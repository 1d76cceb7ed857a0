import type { DataSource, EntityManager } from 'typeorm';
import type { AttendeeStatus } from './entities/attendee.ts';

/**
 * Registrations on the network: the RSVP record meetflow publishes of one (its columns
 * `bluesky_*`) and the registrations that came from records (`source_*`).
 */
type Q = DataSource | EntityManager;

/** Where the person's registration came from on the network (its RSVP record), if anywhere. */
export async function rsvpSourceOf(q: Q, eventId: string, userId: string): Promise<{ source_id: string | null; source_cid: string | null } | undefined> {
  const [row] = await q.query(`SELECT source_id, source_cid FROM attendees WHERE event_id = $1 AND user_id = $2`, [eventId, userId]);
  return row;
}

export async function setRsvpSource(m: EntityManager, eventId: string, userId: string, sourceId: string, sourceCid: string | null): Promise<void> {
  await m.query(`UPDATE attendees SET source_id = $3, source_cid = $4 WHERE event_id = $1 AND user_id = $2`, [eventId, userId, sourceId, sourceCid]);
}

/** The registration an RSVP record of the network became. */
export async function rsvpFromRecord(q: Q, sourceId: string): Promise<{ slug: string; user_id: string } | undefined> {
  const [a] = await q.query(`SELECT e.slug, a.user_id FROM attendees a JOIN events e ON e.id = a.event_id WHERE a.source_id = $1`, [sourceId]);
  return a;
}

/** The registration meetflow published as this RSVP record, if any. */
export async function rsvpPublishedAs(q: Q, uri: string): Promise<{ slug: string; bluesky_cid: string | null } | undefined> {
  const [a] = await q.query(`SELECT e.slug, a.bluesky_cid FROM attendees a JOIN events e ON e.id = a.event_id WHERE a.bluesky_uri = $1`, [uri]);
  return a;
}

/**
 * The user's own registrations (not from the network) for events that are on the network, whose
 * RSVP record is missing from `listed`; none when `autoPublish` is off.
 */
export function rsvpsMissingFrom(q: Q, userId: string, autoPublish: boolean, listed: string[]): Promise<{ slug: string }[]> {
  return q.query(
    `SELECT e.slug, a.bluesky_uri FROM attendees a JOIN events e ON e.id = a.event_id
      WHERE a.user_id = $1 AND a.source_id IS NULL AND (e.bluesky_uri IS NOT NULL OR e.source_type = 'bluesky')
        AND $2 AND (a.bluesky_uri IS NULL OR NOT a.bluesky_uri = ANY($3))`, [userId, autoPublish, listed]);
}

/** What the RSVP publisher needs of one person and one event: the subject record, the registration, the connection. */
export async function rsvpToPublish(q: Q, eventSlug: string, userId: string) {
  const [row] = await q.query(
    `SELECT e.id AS event_id, e.status AS event_status, u.did, u.bluesky_connected,
            COALESCE(e.bluesky_uri, CASE WHEN e.source_type = 'bluesky' THEN e.source_id END) AS subject_uri,
            COALESCE(e.bluesky_cid, CASE WHEN e.source_type = 'bluesky' THEN e.source_cid END) AS subject_cid,
            a.id AS attendee_id, a.status, a.source_id, a.created_at
       FROM events e CROSS JOIN users u
       LEFT JOIN attendees a ON a.event_id = e.id AND a.user_id = u.id
      WHERE e.slug = $1 AND u.id = $2`, [eventSlug, userId]);
  return row as {
    event_id: string; event_status: string; did: string | null; bluesky_connected: boolean; subject_uri: string | null; subject_cid: string | null;
    attendee_id: string | null; status: AttendeeStatus; source_id: string | null; created_at: Date;
  } | undefined;
}

/** The registration's RSVP record: written (uri, cid, rkey) or gone (null). */
export async function setRsvpRecord(q: Q, attendeeId: string, record: { uri: string; cid: string; rkey: string } | null): Promise<void> {
  await q.query(`UPDATE attendees SET bluesky_uri = $2, bluesky_cid = $3, bluesky_rkey = $4 WHERE id = $1`,
    [attendeeId, record?.uri ?? null, record?.cid ?? null, record?.rkey ?? null]);
}

/** The RSVP records meetflow wrote for an event's attendees, with their authors. */
export function rsvpRecordsOfEvent(q: Q, eventId: string): Promise<{ id: string; did: string; bluesky_rkey: string; bluesky_uri: string }[]> {
  return q.query(
    `SELECT a.id, u.did, a.bluesky_rkey, a.bluesky_uri FROM attendees a JOIN users u ON u.id = a.user_id
      WHERE a.event_id = $1 AND a.bluesky_uri IS NOT NULL`, [eventId]);
}

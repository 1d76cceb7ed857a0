import type { DataSource, EntityManager } from 'typeorm';
import { changedRows } from './changed-rows.ts';
import { asEntity, prepared } from './prepared.ts';
import { UserEntity, type User } from './entities/user.ts';
import type { AttendeeStatus } from './entities/attendee.ts';

/** The `users` table: the statements that write it, and the lookups the API and activities share. */
type Q = DataSource | EntityManager;

const USER_BY_ID = prepared<User>(`SELECT ${asEntity(UserEntity)} FROM users WHERE id = $1`);
/** The user with this id (the caller of every authenticated request: a prepared read). */
export async function userById(q: Q, id: string): Promise<User | null> {
  const [user] = await USER_BY_ID(q, [id]);
  return user ?? null;
}
export const userByDid = (q: Q, did: string): Promise<User | null> => q.getRepository(UserEntity).findOneBy({ did });
export const userBySlug = (q: Q, slug: string): Promise<User | null> => q.getRepository(UserEntity).findOneBy({ slug });

/**
 * Who RSVPs to what (the RSVP path's hot read, bench/rsvp-throughput.ts): the user (what an RSVP's
 * follow-ups name: id, slug, whether their RSVPs are published to Bluesky), the event's status and
 * managers (null: no such event), and the status the user holds there (null: none; read without
 * the event's lock, so it may be stale). No row: no such user. `$1`: the event's slug, `$2`: the user.
 */
export const RSVP_CALLER = `
  SELECT u.id, u.slug, u.bluesky_connected AS "blueskyConnected", u.bluesky_auto_publish AS "blueskyAutoPublish",
         e.status AS "eventStatus", e.owner_id AS "ownerId", e.group_id AS "groupId", a.status AS "held"
    FROM users u LEFT JOIN events e ON e.slug = $1 LEFT JOIN attendees a ON a.event_id = e.id AND a.user_id = u.id
   WHERE u.id = $2`;
export interface RsvpCaller {
  id: string; slug: string; blueskyConnected: boolean; blueskyAutoPublish: boolean; eventStatus: string | null; ownerId: string | null; groupId: string | null;
  held: AttendeeStatus | null;
}

export async function userIdByDid(q: Q, did: string): Promise<string | null> {
  const [row] = await q.query(`SELECT id FROM users WHERE did = $1`, [did]);
  return row?.id ?? null;
}

/** Those of these DIDs that no user has. */
export async function unknownDids(q: Q, dids: string[]): Promise<string[]> {
  const rows: { did: string }[] = await q.query(
    `SELECT d.did FROM unnest($1::text[]) AS d(did) WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.did = d.did)`, [dids]);
  return rows.map((r) => r.did);
}

/** A local user (no Bluesky yet). */
export async function insertLocalUser(m: EntityManager, fields: { slug: string; email: string | null; displayName: string; handle: string | null }): Promise<User> {
  const repo = m.getRepository(UserEntity);
  return repo.save(repo.create(fields));
}

/**
 * A shadow account for a DID seen on the network (handle as name, no email), created once: the
 * DID is unique. Answers the id of the DID's user, shadow or not.
 */
export async function ensureShadowUser(q: Q, u: { slug: string; name: string; handle: string | null; did: string; pdsUrl: string | null }): Promise<string> {
  await q.query(
    `INSERT INTO users (slug, display_name, handle, did, pds_url, provider, is_shadow_account)
     VALUES ($1, $2, $3, $4, $5, 'bluesky', true) ON CONFLICT (did) DO NOTHING`,
    [u.slug, u.name, u.handle, u.did, u.pdsUrl]);
  return (await userIdByDid(q, u.did))!;
}

/** A login with Bluesky and no meetflow account: the DID's user, made a full account if it was a shadow one. */
export async function upsertBlueskyUser(q: Q, u: { slug: string; handle: string; did: string; pdsUrl: string }): Promise<string> {
  const [user] = await q.query(
    `INSERT INTO users (slug, display_name, handle, did, pds_url, provider, bluesky_connected)
     VALUES ($1, $2, $2, $3, $4, 'bluesky', true)
     ON CONFLICT (did) DO UPDATE SET handle = EXCLUDED.handle, pds_url = EXCLUDED.pds_url, bluesky_connected = true,
            is_shadow_account = false, updated_at = now()
     RETURNING id`, [u.slug, u.handle, u.did, u.pdsUrl]);
  return user.id;
}

/** A signed-in user links their Bluesky identity. */
export async function linkBluesky(q: Q, userId: string, identity: { did: string; handle: string; pds: string }): Promise<void> {
  await q.query(
    `UPDATE users SET did = $2, handle = COALESCE(handle, $3), pds_url = $4, bluesky_connected = true, updated_at = now() WHERE id = $1`,
    [userId, identity.did, identity.handle, identity.pds]);
}

/**
 * The Bluesky profile's name and avatar: an account that came from Bluesky takes both; a meetflow
 * account that linked Bluesky keeps its own name and takes an avatar if it has none.
 */
export async function applyProfile(q: Q, userId: string, profile: { displayName: string | null; avatarUrl: string | null }): Promise<void> {
  await q.query(
    `UPDATE users SET display_name = CASE WHEN provider = 'bluesky' THEN coalesce($2, display_name) ELSE display_name END,
            avatar_url = CASE WHEN provider = 'bluesky' THEN $3 ELSE coalesce(avatar_url, $3) END, updated_at = now()
      WHERE id = $1`, [userId, profile.displayName, profile.avatarUrl]);
}

/** Marks a shadow account as being claimed by `claimant`; false when another claimant holds it. */
export async function markClaimed(q: Q, shadowId: string, claimant: string): Promise<boolean> {
  const marked = await changedRows(q,
    `UPDATE users SET claimed_by = $2 WHERE id = $1 AND (claimed_by IS NULL OR claimed_by = $2) RETURNING id`, [shadowId, claimant]);
  return marked.length > 0;
}

/** The caller's settings, locked; answers the row before and after. */
export async function updateSettings(m: EntityManager, id: string, p: { displayName?: string; blueskyAutoPublish?: boolean }) {
  const [before] = await m.query(`SELECT bluesky_auto_publish FROM users WHERE id = $1 FOR UPDATE`, [id]);
  await m.query(
    `UPDATE users SET display_name = coalesce($2, display_name), bluesky_auto_publish = coalesce($3, bluesky_auto_publish), updated_at = now() WHERE id = $1`,
    [id, p.displayName ?? null, p.blueskyAutoPublish ?? null]);
  return { before: { blueskyAutoPublish: before.bluesky_auto_publish as boolean }, after: (await userById(m, id))! };
}

/** Publishing for this user stops: every publisher checks the connection. */
export async function disconnectBluesky(q: Q, by: { id: string } | { did: string }): Promise<void> {
  if ('id' in by) await q.query(`UPDATE users SET bluesky_connected = false, updated_at = now() WHERE id = $1`, [by.id]);
  else await q.query(`UPDATE users SET bluesky_connected = false, updated_at = now() WHERE did = $1`, [by.did]);
}

/** The user's account on the homeserver, once. */
export async function setMatrixUserId(q: Q, userId: string, mxid: string): Promise<void> {
  await q.query(`UPDATE users SET matrix_user_id = $2 WHERE id = $1 AND matrix_user_id IS NULL`, [userId, mxid]);
}

/** The user a sync runs for: connected, not a shadow account. */
export async function connectedUserByDid(q: Q, did: string): Promise<{ id: string; slug: string; bluesky_auto_publish: boolean } | undefined> {
  const [user] = await q.query(
    `SELECT id, slug, bluesky_auto_publish FROM users WHERE did = $1 AND bluesky_connected AND NOT is_shadow_account`, [did]);
  return user;
}

/** Up to `limit` of the records meetflow wrote in the user's repo: their events', then their RSVPs'. */
export function publishedRecordsOf(q: Q, did: string, limit: number): Promise<{ kind: 'events' | 'attendees'; id: string; rkey: string }[]> {
  return q.query(
    `(SELECT 'events' AS kind, e.id::text, e.bluesky_rkey AS rkey FROM events e JOIN users u ON u.id = e.owner_id
       WHERE u.did = $1 AND e.bluesky_uri IS NOT NULL AND e.source_type IS NULL LIMIT $2)
     UNION ALL
     (SELECT 'attendees', a.id::text, a.bluesky_rkey FROM attendees a JOIN users u ON u.id = a.user_id
       WHERE u.did = $1 AND a.bluesky_uri IS NOT NULL AND a.source_id IS NULL LIMIT $2)
     LIMIT $2`, [did, limit]);
}

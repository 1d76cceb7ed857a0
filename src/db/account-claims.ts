import type { DataSource, EntityManager } from 'typeorm';
import { changedRows } from './changed-rows.ts';
import { untally } from './attendee-tallies.ts';

/**
 * An account claim merges a shadow account into the user who proved its DID: the statements of
 * that merge across owners, attendees, memberships and the profile, each journalled in
 * `account_claim_journal` so that a failed claim is undone exactly. They live together here
 * because each is only correct with its journal entry.
 */
type Q = DataSource | EntityManager;

/** A claim: the DID proven, its shadow account and the user it merges into (with the identity's handle and PDS). */
export interface ClaimInput { did: string; shadowId: string; userId: string; handle: string; pdsUrl: string | null }

/** confirmed > waitlisted > maybe > cancelled (issue #9); the earliest waitlist time is kept. */
const STRENGTH = `array_position(ARRAY['cancelled', 'maybe', 'waitlisted', 'confirmed'], status)`;
const roleRank = (col: string) => `array_position(ARRAY['member', 'admin', 'owner'], ${col})`;

/**
 * Each move writes what it changes into the claim's journal in the same transaction (mostly in
 * the same statement), so a step is atomic and running it again finds nothing left to move.
 */
export const claimMoves = {
  async ownership(m: EntityManager, c: ClaimInput) {
    for (const table of ['events', 'event_series', 'groups']) {
      await m.query(
        `WITH moved AS (
           UPDATE ${table} t SET owner_id = $3, updated_at = now() FROM ${table} b
            WHERE t.id = b.id AND t.owner_id = $2 RETURNING b.id, b.owner_id, b.updated_at)
         INSERT INTO account_claim_journal (did, kind, before) SELECT $1, '${table}-owner', to_jsonb(moved) FROM moved`,
        [c.did, c.shadowId, c.userId]);
    }
  },

  /**
   * The shadow's RSVPs: moved, or merged into the user's own RSVP to the same event. Answers the
   * events whose seat was freed, and each merge (the two statuses and the one kept).
   */
  async attendees(m: EntityManager, c: ClaimInput): Promise<{ freed: string[]; merges: { event: string; shadow: unknown; user: unknown; kept: string }[] }> {
    const overlaps: { s: Record<string, unknown>; u: Record<string, unknown>; event_id: string }[] = await m.query(
      `SELECT to_jsonb(s) AS s, to_jsonb(u) AS u, s.event_id FROM attendees s
         JOIN attendees u ON u.event_id = s.event_id AND u.user_id = $2
        WHERE s.user_id = $1 FOR UPDATE OF s, u`, [c.shadowId, c.userId]);
    const freed: string[] = [];
    const merges: { event: string; shadow: unknown; user: unknown; kept: string }[] = [];
    for (const { s, u, event_id } of overlaps) {
      await m.query(`INSERT INTO account_claim_journal (did, kind, before) VALUES ($1, 'attendee-merged', $2)`, [c.did, { shadow: s, user: u }]);
      await untally(m, await changedRows(m, `DELETE FROM attendees WHERE id = $1 RETURNING event_id, registration_role, status`, [s.id]));
      const [merged] = await changedRows(m,
        `WITH pair AS (SELECT * FROM jsonb_populate_recordset(null::attendees, $2))
         UPDATE attendees a SET
           status = (SELECT status FROM pair ORDER BY ${STRENGTH} DESC LIMIT 1),
           registration_role = (SELECT registration_role FROM pair ORDER BY ${STRENGTH} DESC, (id = $1) DESC LIMIT 1),
           waitlisted_at = CASE WHEN (SELECT status FROM pair ORDER BY ${STRENGTH} DESC LIMIT 1) = 'waitlisted'
                                THEN (SELECT min(waitlisted_at) FROM pair) END,
           -- the shadow's attribution, unless the user's row already has one or is published by meetflow
           source_id = COALESCE(a.source_id, CASE WHEN a.bluesky_uri IS NULL THEN $3 END),
           source_cid = CASE WHEN a.source_id IS NULL AND a.bluesky_uri IS NULL THEN $4 ELSE a.source_cid END,
           created_at = LEAST(a.created_at, $5::timestamptz), updated_at = now()
         WHERE a.id = $1 RETURNING status`,
        [u.id, JSON.stringify([s, u]), s.source_id, s.source_cid, s.created_at]);
      if (s.status === 'confirmed' && u.status === 'confirmed') freed.push(event_id); // two seats became one
      merges.push({ event: event_id, shadow: s.status, user: u.status, kept: merged.status });
    }
    await m.query(
      `WITH moved AS (
         UPDATE attendees t SET user_id = $3, updated_at = now() FROM attendees b
          WHERE t.id = b.id AND t.user_id = $2 RETURNING b.id, b.user_id, b.updated_at)
       INSERT INTO account_claim_journal (did, kind, before) SELECT $1, 'attendee-moved', to_jsonb(moved) FROM moved`,
      [c.did, c.shadowId, c.userId]);
    const slugs = freed.length ? (await m.query(`SELECT slug FROM events WHERE id = ANY($1::uuid[])`, [freed])).map((r: { slug: string }) => r.slug) : [];
    return { freed: slugs, merges };
  },

  async memberships(m: EntityManager, c: ClaimInput) {
    await m.query(
      `WITH both_rows AS (
         SELECT to_jsonb(s) AS s, to_jsonb(u) AS u FROM group_members s
           JOIN group_members u ON u.group_id = s.group_id AND u.user_id = $3 WHERE s.user_id = $2),
       journal AS (INSERT INTO account_claim_journal (did, kind, before) SELECT $1, 'member-merged', jsonb_build_object('shadow', s, 'user', u) FROM both_rows),
       stronger AS (
         UPDATE group_members u SET role = s.role FROM group_members s
          WHERE s.group_id = u.group_id AND s.user_id = $2 AND u.user_id = $3
            AND ${roleRank('s.role')} > ${roleRank('u.role')})
       DELETE FROM group_members s USING group_members u WHERE s.group_id = u.group_id AND s.user_id = $2 AND u.user_id = $3`,
      [c.did, c.shadowId, c.userId]);
    await m.query(
      `WITH moved AS (UPDATE group_members t SET user_id = $3 WHERE t.user_id = $2 RETURNING t.group_id, $2::uuid AS user_id)
       INSERT INTO account_claim_journal (did, kind, before) SELECT $1, 'member-moved', to_jsonb(moved) FROM moved`,
      [c.did, c.shadowId, c.userId]);
    // A request to join a group the user is now a member of is answered.
    await m.query(
      `WITH dropped AS (DELETE FROM group_join_requests r USING group_members m
          WHERE r.user_id = $2 AND m.group_id = r.group_id AND m.user_id = r.user_id RETURNING r.*)
       INSERT INTO account_claim_journal (did, kind, before) SELECT $1, 'request-dropped', to_jsonb(dropped) FROM dropped`,
      [c.did, c.userId]);
  },

  /** Fills what the user left empty from the shadow account; never overwrites. */
  async profile(m: EntityManager, c: ClaimInput) {
    const [done] = await m.query(`SELECT 1 FROM account_claim_journal WHERE did = $1 AND kind = 'profile'`, [c.did]);
    if (done) return;
    await m.query(
      `WITH before AS (SELECT id, handle, pds_url, updated_at FROM users WHERE id = $3),
       journal AS (INSERT INTO account_claim_journal (did, kind, before) SELECT $1, 'profile', to_jsonb(before) FROM before)
       UPDATE users u SET handle = COALESCE(u.handle, s.handle), pds_url = COALESCE(u.pds_url, s.pds_url), updated_at = now()
         FROM users s WHERE u.id = $3 AND s.id = $2`,
      [c.did, c.shadowId, c.userId]);
  },
};

/** Puts back what one journal entry records (newest first). */
export async function undoClaimEntry(m: EntityManager, c: ClaimInput, kind: string, before: Record<string, any>): Promise<void> {
  const table = kind.endsWith('-owner') ? kind.slice(0, -'-owner'.length) : null;
  if (table) {
    await m.query(`UPDATE ${table} SET owner_id = $2, updated_at = $3 WHERE id = $1`, [before.id, before.owner_id, before.updated_at]);
  } else if (kind === 'attendee-moved') {
    await m.query(`UPDATE attendees SET user_id = $2, updated_at = $3 WHERE id = $1`, [before.id, before.user_id, before.updated_at]);
  } else if (kind === 'attendee-merged') {
    await m.query(
      `UPDATE attendees a SET (status, role, registration_role, notes, special_requirements, waitlisted_at, source_id, source_cid, bluesky_uri, bluesky_cid, bluesky_rkey, created_at, updated_at)
         = (b.status, b.role, b.registration_role, b.notes, b.special_requirements, b.waitlisted_at, b.source_id, b.source_cid, b.bluesky_uri, b.bluesky_cid, b.bluesky_rkey, b.created_at, b.updated_at)
         FROM jsonb_populate_record(null::attendees, $1) b WHERE a.id = b.id`, [before.user]);
    await m.query(`INSERT INTO attendees OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_record(null::attendees, $1)`, [before.shadow]);
  } else if (kind === 'member-moved') {
    await m.query(`UPDATE group_members SET user_id = $3 WHERE group_id = $1 AND user_id = $2`, [before.group_id, c.userId, before.user_id]);
  } else if (kind === 'member-merged') {
    await m.query(`UPDATE group_members SET role = $3 WHERE group_id = $1 AND user_id = $2`, [before.user.group_id, c.userId, before.user.role]);
    await m.query(`INSERT INTO group_members SELECT * FROM jsonb_populate_record(null::group_members, $1)`, [before.shadow]);
  } else if (kind === 'request-dropped') {
    await m.query(`INSERT INTO group_join_requests SELECT * FROM jsonb_populate_record(null::group_join_requests, $1)`, [before]);
  } else if (kind === 'profile') {
    await m.query(`UPDATE users SET handle = $2, pds_url = $3, updated_at = $4 WHERE id = $1`, [before.id, before.handle, before.pds_url, before.updated_at]);
  } else {
    throw new Error(`unknown claim journal entry ${kind}`);
  }
}

/** Locks the shadow account row; false when it is gone (or, with `shadowOnly`, no longer a shadow). */
export async function lockShadow(m: EntityManager, shadowId: string, shadowOnly: boolean): Promise<boolean> {
  const [shadow] = await m.query(`SELECT 1 FROM users WHERE id = $1 ${shadowOnly ? 'AND is_shadow_account' : ''} FOR UPDATE`, [shadowId]);
  return shadow !== undefined;
}

export function journalEntries(m: EntityManager, did: string): Promise<{ kind: string; before: Record<string, unknown> }[]> {
  return m.query(`SELECT kind, before FROM account_claim_journal WHERE did = $1 ORDER BY id DESC`, [did]);
}

export async function dropJournal(m: EntityManager, did: string): Promise<void> {
  await m.query(`DELETE FROM account_claim_journal WHERE did = $1`, [did]);
}

/** The shadow account is open for the next login's claim. */
export async function releaseShadow(q: Q, shadowId: string): Promise<void> {
  await q.query(`UPDATE users SET claimed_by = NULL WHERE id = $1`, [shadowId]);
}

export async function deleteShadow(m: EntityManager, shadowId: string): Promise<void> {
  await m.query(`DELETE FROM users WHERE id = $1 AND is_shadow_account`, [shadowId]);
}

/** The user takes the claimed DID (and the shadow's handle and PDS where they had none). */
export async function takeDid(m: EntityManager, c: ClaimInput): Promise<void> {
  await m.query(
    `UPDATE users SET did = $2, handle = COALESCE(handle, $3), pds_url = COALESCE($4, pds_url),
            bluesky_connected = true, updated_at = now() WHERE id = $1`, [c.userId, c.did, c.handle, c.pdsUrl]);
}

/** How many of each kind of change the claim journalled. */
export async function journalCounts(m: EntityManager, did: string): Promise<Record<string, number>> {
  return Object.fromEntries((await m.query(
    `SELECT kind, count(*)::int AS n FROM account_claim_journal WHERE did = $1 GROUP BY kind`, [did])).map((r: { kind: string; n: number }) => [r.kind, r.n]));
}

/** The chat-enabled events and groups whose membership the claim's journalled changes touched. */
export function roomsTouched(m: EntityManager, did: string): Promise<{ kind: 'event' | 'group'; slug: string }[]> {
  return m.query(
    `WITH j AS (SELECT kind, before FROM account_claim_journal WHERE did = $1)
     SELECT 'event' AS kind, e.slug FROM events e WHERE e.chat_enabled AND (
            e.id IN (SELECT (before->>'id')::uuid FROM j WHERE kind = 'events-owner')
         OR e.id IN (SELECT event_id FROM attendees WHERE id IN (
              SELECT (before->>'id')::bigint FROM j WHERE kind = 'attendee-moved'
              UNION SELECT (before->'user'->>'id')::bigint FROM j WHERE kind = 'attendee-merged')))
     UNION
     SELECT 'group', g.slug FROM groups g WHERE g.chat_enabled AND g.id IN (
            SELECT (before->>'group_id')::uuid FROM j WHERE kind = 'member-moved'
            UNION SELECT (before->'user'->>'group_id')::uuid FROM j WHERE kind = 'member-merged')`, [did]);
}

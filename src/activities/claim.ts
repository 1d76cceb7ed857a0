import { ApplicationFailure, heartbeat, log } from '@temporalio/activity';
import type { DataSource, EntityManager } from 'typeorm';
import type { Config } from '../config.ts';
import type { FollowUpRelay } from '../follow-ups/outbox.ts';
import { afterClaim } from '../follow-ups/rules.ts';
import { changedRows } from '../db/changed-rows.ts';
import { FAILURE } from '../temporal/failures.ts';
import type { ClaimInput } from '../temporal/contracts.ts';


/** confirmed > waitlisted > maybe > cancelled (issue #9); the earliest waitlist time is kept. */
const STRENGTH = `array_position(ARRAY['cancelled', 'maybe', 'waitlisted', 'confirmed'], status)`;
const roleRank = (col: string) => `array_position(ARRAY['member', 'admin', 'owner'], ${col})`;

/**
 * Each move writes what it changes into the claim's journal in the same transaction (mostly in
 * the same statement), so a step is atomic and running it again finds nothing left to move.
 */
const moves = {
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

  /** The shadow's RSVPs: moved, or merged into the user's own RSVP to the same event. Answers events whose seat was freed. */
  async attendees(m: EntityManager, c: ClaimInput): Promise<string[]> {
    const overlaps: { s: Record<string, unknown>; u: Record<string, unknown>; event_id: string }[] = await m.query(
      `SELECT to_jsonb(s) AS s, to_jsonb(u) AS u, s.event_id FROM attendees s
         JOIN attendees u ON u.event_id = s.event_id AND u.user_id = $2
        WHERE s.user_id = $1 FOR UPDATE OF s, u`, [c.shadowId, c.userId]);
    const freed: string[] = [];
    for (const { s, u, event_id } of overlaps) {
      await m.query(`INSERT INTO account_claim_journal (did, kind, before) VALUES ($1, 'attendee-merged', $2)`, [c.did, { shadow: s, user: u }]);
      await m.query(`DELETE FROM attendees WHERE id = $1`, [s.id]);
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
      log.info('RSVPs merged in a claim', { event: event_id, shadow: s.status, user: u.status, kept: merged.status });
    }
    await m.query(
      `WITH moved AS (
         UPDATE attendees t SET user_id = $3, updated_at = now() FROM attendees b
          WHERE t.id = b.id AND t.user_id = $2 RETURNING b.id, b.user_id, b.updated_at)
       INSERT INTO account_claim_journal (did, kind, before) SELECT $1, 'attendee-moved', to_jsonb(moved) FROM moved`,
      [c.did, c.shadowId, c.userId]);
    return freed.length ? (await m.query(`SELECT slug FROM events WHERE id = ANY($1::uuid[])`, [freed])).map((r: { slug: string }) => r.slug) : [];
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
async function undo(m: EntityManager, c: ClaimInput, kind: string, before: Record<string, any>): Promise<void> {
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

/** SQLSTATEs that fail the same way on every retry: a check or not-null constraint, bad data. */
const isPermanent = (err: unknown) => /^(23514|23502|22)/.test((err as { code?: string }).code ?? '');

export function claimActivities({ ds, config, followUps }: { ds: DataSource; config: Config; followUps: FollowUpRelay }) {
  /** One step: one transaction, heartbeating while it waits on locks, a deterministic failure made final. */
  async function step<T>(c: ClaimInput, name: string, fn: (m: EntityManager) => Promise<T>): Promise<T> {
    const beat = setInterval(() => heartbeat(name), 1000);
    try {
      return await ds.transaction(async (m) => {
        const [shadow] = await m.query(`SELECT 1 FROM users WHERE id = $1 AND is_shadow_account FOR UPDATE`, [c.shadowId]);
        if (!shadow) throw ApplicationFailure.create({ type: FAILURE.claimStepRejected, nonRetryable: true, message: `${c.did}: the shadow account is gone` });
        return fn(m);
      });
    } catch (err) {
      if (isPermanent(err)) {
        throw ApplicationFailure.create({ type: FAILURE.claimStepRejected, nonRetryable: true, message: `${name}: ${(err as Error).message}`, cause: err as Error });
      }
      throw err;
    } finally {
      clearInterval(beat);
    }
  }

  return {
    claimOwnership: (c: ClaimInput) => step(c, 'transfer ownership', (m) => moves.ownership(m, c)),
    claimAttendees: (c: ClaimInput) => step(c, 'move RSVPs', (m) => moves.attendees(m, c)),
    claimMemberships: (c: ClaimInput) => step(c, 'move group memberships', (m) => moves.memberships(m, c)),
    claimProfile: (c: ClaimInput) => step(c, 'merge profile', (m) => moves.profile(m, c)),

    /** Undoes every journalled change of this claim, newest first, in one transaction. */
    async compensateClaim(c: ClaimInput): Promise<number> {
      return ds.transaction(async (m) => {
        const entries: { kind: string; before: Record<string, unknown> }[] = await m.query(
          `SELECT kind, before FROM account_claim_journal WHERE did = $1 ORDER BY id DESC`, [c.did]);
        for (const e of entries) await undo(m, c, e.kind, e.before);
        await m.query(`DELETE FROM account_claim_journal WHERE did = $1`, [c.did]);
        await m.query(`UPDATE users SET claimed_by = NULL WHERE id = $1`, [c.shadowId]); // open for the next login
        log.warn('account claim undone', { did: c.did, entries: entries.length });
        return entries.length;
      });
    },

    /**
     * The point of no return, in one transaction: a last sweep moves anything that reached the
     * shadow account during the claim, the shadow account is deleted, the user takes its DID,
     * and the journal goes. Answers the counts and the chat rooms whose membership changed.
     */
    async finishClaim(c: ClaimInput) {
      return ds.transaction(async (m) => {
        const [shadow] = await m.query(`SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, [c.shadowId]);
        if (shadow) {
          await moves.ownership(m, c);
          await moves.attendees(m, c);
          await moves.memberships(m, c);
          await m.query(`DELETE FROM users WHERE id = $1 AND is_shadow_account`, [c.shadowId]);
        }
        await m.query(
          `UPDATE users SET did = $2, handle = COALESCE(handle, $3), pds_url = COALESCE($4, pds_url),
                  bluesky_connected = true, updated_at = now() WHERE id = $1`, [c.userId, c.did, c.handle, c.pdsUrl]);
        const counts: Record<string, number> = Object.fromEntries((await m.query(
          `SELECT kind, count(*)::int AS n FROM account_claim_journal WHERE did = $1 GROUP BY kind`, [c.did])).map((r: { kind: string; n: number }) => [r.kind, r.n]));
        const rooms: { kind: 'event' | 'group'; slug: string }[] = await m.query(
          `WITH j AS (SELECT kind, before FROM account_claim_journal WHERE did = $1)
           SELECT 'event' AS kind, e.slug FROM events e WHERE e.chat_enabled AND (
                  e.id IN (SELECT (before->>'id')::uuid FROM j WHERE kind = 'events-owner')
               OR e.id IN (SELECT event_id FROM attendees WHERE id IN (
                    SELECT (before->>'id')::bigint FROM j WHERE kind = 'attendee-moved'
                    UNION SELECT (before->'user'->>'id')::bigint FROM j WHERE kind = 'attendee-merged')))
           UNION
           SELECT 'group', g.slug FROM groups g WHERE g.chat_enabled AND g.id IN (
                  SELECT (before->>'group_id')::uuid FROM j WHERE kind = 'member-moved'
                  UNION SELECT (before->'user'->>'group_id')::uuid FROM j WHERE kind = 'member-merged')`, [c.did]);
        await m.query(`DELETE FROM account_claim_journal WHERE did = $1`, [c.did]);
        return { counts, rooms };
      });
    },

    /**
     * Rooms follow the rows (their workflows reconcile membership); merged confirmations may have
     * freed seats; and the user's sync runs now that the DID is theirs.
     */
    async afterClaim(input: { did: string; rooms: { kind: 'event' | 'group'; slug: string }[]; freedSeats: string[] }): Promise<void> {
      await followUps.now(afterClaim(config, input));
    },
  };
}

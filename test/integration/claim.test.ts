import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestNetworkNoAppView } from '@atproto/dev-env';
import { eventually, type Stack } from '../helpers/stack.ts';
import { appPasswordLogin, PASSWORD, pdsAccount, startPdsStack } from '../helpers/pds.ts';
import { spawnWorker } from '../helpers/worker-process.ts';
import { doorFor, type Door } from '../helpers/door.ts';
import { browserCookie, signInAndConsent } from '../helpers/oauth.ts';
import { FAILURE } from '../../src/temporal/failures.ts';

// Claiming on the real dev server, Postgres and a local PDS: a signed-in user logs in with the
// Bluesky account whose DID a shadow account holds.
let net: TestNetworkNoAppView;
let s: Stack;
let postgres: Door; // in front of the real Postgres, open unless a test cuts it
beforeAll(async () => {
  const cut = await doorFor('DATABASE_URL');
  postgres = cut.door;
  ({ net, s } = await startPdsStack(() => cut.env));
}, 120_000);
afterAll(async () => { await postgres?.open(); await s?.close(); await net?.close(); await postgres?.shut(); });

async function blueskyAccount() {
  const handle = `u${randomUUID().slice(0, 8)}.test`;
  return { handle, did: (await pdsAccount(net, handle)).session!.did, password: PASSWORD };
}

const login = (account: { handle: string; password: string }, token?: string) => appPasswordLogin(s, account.handle, account.password, token);

/** Pairs (shadow, user) of RSVPs to the same event, and what the merge must keep. */
const OVERLAPS = [
  { shadow: 'confirmed', user: 'maybe', kept: 'confirmed' },
  { shadow: 'waitlisted', user: 'confirmed', kept: 'confirmed' },
  { shadow: 'maybe', user: 'waitlisted', kept: 'waitlisted' },
  { shadow: 'cancelled', user: 'maybe', kept: 'maybe' },
  { shadow: 'waitlisted', user: 'waitlisted', kept: 'waitlisted' },
] as const;

/**
 * A shadow account (the DID of `did`) with 20 events of its own (4 ingested, with their source),
 * 30 RSVPs of which 5 overlap RSVPs of the real user, and two group memberships, one shared.
 */
async function seed(did: string, handle: string) {
  const tag = randomUUID().slice(0, 8);
  const real = await s.user('Real Person');
  const host = await s.user('Host');
  const [shadow] = await s.ds.query(
    `INSERT INTO users (slug, display_name, handle, did, provider, is_shadow_account) VALUES ($1, $2, $2, $3, 'bluesky', true) RETURNING id`,
    [`shadow-${tag}`, handle, did]);
  await s.ds.query(
    `INSERT INTO events (slug, name, start_at, end_at, time_zone, owner_id, source_type, source_id, source_did)
     SELECT 'own-' || $2 || '-' || g, 'Own ' || g, now() + g * interval '1 day', now() + g * interval '1 day' + interval '1 hour', 'UTC', $1,
            CASE WHEN g <= 4 THEN 'bluesky' END, CASE WHEN g <= 4 THEN 'at://' || $3 || '/community.lexicon.calendar.event/' || g END,
            CASE WHEN g <= 4 THEN $3 END
       FROM generate_series(1, 20) g`, [shadow.id, tag, did]);
  const events: { id: string; slug: string }[] = await s.ds.query(
    `INSERT INTO events (slug, name, start_at, end_at, time_zone, owner_id)
     SELECT 'other-' || $2 || '-' || g, 'Other ' || g, now() + g * interval '1 day', now() + g * interval '1 day' + interval '1 hour', 'UTC', $1
       FROM generate_series(1, 30) g RETURNING id, slug`, [host.id, tag]);
  const early = new Date(Date.now() - 3_600_000);
  const late = new Date(Date.now() - 60_000);
  for (const [i, e] of events.entries()) {
    const overlap = OVERLAPS[i];
    const status = overlap?.shadow ?? (i % 3 === 0 ? 'maybe' : 'confirmed');
    await s.ds.query(`INSERT INTO attendees (event_id, user_id, status, waitlisted_at, source_id) VALUES ($1, $2, $3, $4, $5)`,
      [e.id, shadow.id, status, status === 'waitlisted' ? early : null, `at://${did}/community.lexicon.calendar.rsvp/${i}`]);
    if (overlap) {
      await s.ds.query(`INSERT INTO attendees (event_id, user_id, status, waitlisted_at) VALUES ($1, $2, $3, $4)`,
        [e.id, real.id, overlap.user, overlap.user === 'waitlisted' ? late : null]);
    }
  }
  const groups: { id: string }[] = await s.ds.query(
    `INSERT INTO groups (slug, name, owner_id) SELECT 'g-' || $2 || '-' || g, 'G', $1 FROM generate_series(1, 2) g RETURNING id`, [host.id, tag]);
  await s.ds.query(`INSERT INTO group_members (group_id, user_id, role)
    VALUES ($1, $5, 'owner'), ($2, $5, 'owner'), ($1, $3, 'admin'), ($2, $3, 'member'), ($2, $4, 'member')`,
    [groups[0].id, groups[1].id, shadow.id, real.id, host.id]);
  // The user asked to join the group the shadow account is an admin of: the claim answers it.
  await s.ds.query(`INSERT INTO group_join_requests (group_id, user_id) VALUES ($1, $2)`, [groups[0].id, real.id]);
  return { real, shadowId: shadow.id as string, events };
}

/** Every row of both accounts, for exact before/after comparison. */
async function snapshot(ids: string[]) {
  const q = (sql: string) => s.ds.query(sql, [ids]);
  return {
    users: await q(`SELECT * FROM users WHERE id = ANY($1) ORDER BY id`),
    events: await q(`SELECT * FROM events WHERE owner_id = ANY($1) ORDER BY id`),
    attendees: await q(`SELECT * FROM attendees WHERE user_id = ANY($1) ORDER BY id`),
    members: await q(`SELECT * FROM group_members WHERE user_id = ANY($1) ORDER BY group_id, user_id`),
    requests: await q(`SELECT * FROM group_join_requests WHERE user_id = ANY($1) ORDER BY group_id, user_id`),
  };
}

/** The shadow account is gone and the user holds everything of the seed (an interrupted claim ends the same). */
async function expectClaimed(realId: string, shadowId: string) {
  expect(await s.ds.query(`SELECT 1 FROM users WHERE id = $1`, [shadowId])).toEqual([]);
  const [n] = await s.ds.query(
    `SELECT (SELECT count(*) FROM events WHERE owner_id = $1)::int AS events, (SELECT count(*) FROM attendees WHERE user_id = $1)::int AS rsvps,
            (SELECT count(*) FROM group_members WHERE user_id = $1)::int AS groups,
            (SELECT count(*) FROM group_join_requests WHERE user_id = $1)::int AS requests`, [realId]);
  expect(n).toEqual({ events: 20, rsvps: 30, groups: 2, requests: 0 });
}

const finished = (token: string, id: string) => s.finished(id, token, { timeoutMs: 120_000 });

describe('account claiming', () => {
  it('moves everything of the shadow account to the user, merges overlapping RSVPs by the rule, and removes the shadow account', async () => {
    const bsky = await blueskyAccount();
    const { real, shadowId, events } = await seed(bsky.did, bsky.handle);
    const count = async (sql: string, params: unknown[] = [real.id]) => (await s.ds.query(sql, params))[0].n as number;
    const attendeesBefore = await count(`SELECT count(*)::int AS n FROM attendees WHERE user_id IN ($1, $2)`, [real.id, shadowId]);

    const answer = await login(bsky, real.token);
    expect(answer.status).toBe(200);
    expect(answer.body.user.id).toBe(real.id);
    expect(answer.body.operations).toEqual([{ id: `claim-account:${bsky.did}`, type: 'claim-account' }]);
    const op = await finished(real.token, answer.body.operations[0].id);
    expect(op.status).toBe('completed');

    expect(await s.ds.query(`SELECT 1 FROM users WHERE id = $1`, [shadowId])).toEqual([]);
    expect(await count(`SELECT count(*)::int AS n FROM events WHERE owner_id = $1`)).toBe(20);
    expect(await count(`SELECT count(*)::int AS n FROM events WHERE owner_id = $1 AND source_type = 'bluesky' AND source_did IS NOT NULL`)).toBe(4);
    expect(await count(`SELECT count(*)::int AS n FROM attendees WHERE user_id = $1`)).toBe(30);
    expect(attendeesBefore - 5).toBe(30); // five pairs became five rows
    expect(await count(`SELECT count(*)::int AS n FROM attendees WHERE source_id IS NOT NULL AND user_id = $1`)).toBe(30); // attribution kept
    for (const [i, o] of OVERLAPS.entries()) {
      const [row] = await s.ds.query(`SELECT status, waitlisted_at FROM attendees WHERE event_id = $1 AND user_id = $2`, [events[i].id, real.id]);
      expect(row.status).toBe(o.kept);
      expect(row.waitlisted_at !== null).toBe(o.kept === 'waitlisted');
    }
    // Both waitlisted: the shadow's earlier place in the line is kept (seeded an hour ago against a minute ago).
    const [both] = await s.ds.query(`SELECT waitlisted_at FROM attendees WHERE event_id = $1 AND user_id = $2`, [events[4].id, real.id]);
    expect(Date.now() - both.waitlisted_at.getTime()).toBeGreaterThan(50 * 60_000);
    expect(await s.ds.query(`SELECT role FROM group_members WHERE user_id = $1 ORDER BY role`, [real.id])).toEqual([{ role: 'admin' }, { role: 'member' }]);
    expect(await s.ds.query(`SELECT did, bluesky_connected, is_shadow_account FROM users WHERE id = $1`, [real.id]))
      .toEqual([{ did: bsky.did, bluesky_connected: true, is_shadow_account: false }]);
    expect(await s.ds.query(`SELECT 1 FROM account_claim_journal WHERE did = $1`, [bsky.did])).toEqual([]);
    // The DID is the user's now: the claim started their sync.
    expect((await s.temporal.workflow.getHandle(`bsky-sync:${bsky.did}`).describe()).type).toBe('blueskySyncWorkflow');

    const again = await login(bsky); // the DID now belongs to the user
    expect(again.body).toMatchObject({ user: { id: real.id }, operations: [{ id: `bsky-sync:${bsky.did}`, type: 'bsky-sync' }] });
  });

  it('two logins at once start one claim', async () => {
    const bsky = await blueskyAccount();
    const { real } = await seed(bsky.did, bsky.handle);
    const [a, b] = await Promise.all([login(bsky, real.token), login(bsky, real.token)]);
    expect(a.body.operations).toEqual(b.body.operations);
    expect((await finished(real.token, a.body.operations[0].id)).status).toBe('completed');
    let runs = 0;
    for await (const _ of s.temporal.workflow.list({ query: `WorkflowId = 'claim-account:${bsky.did}'` })) runs++;
    expect(runs).toBe(1);
  });

  it('an OAuth login of a signed-in user claims too (the caller travels in the OAuth state); a second claimant is refused', async () => {
    const bsky = await blueskyAccount();
    const { real, shadowId } = await seed(bsky.did, bsky.handle);
    const start = await s.app.request(`/v1/auth/bluesky/login?handle=${bsky.handle}`, { headers: { Authorization: `Bearer ${real.token}` } });
    expect(start.status).toBe(302);
    await s.ds.query(`UPDATE users SET claimed_by = $2 WHERE id = $1`, [shadowId, (await s.user('Someone Else')).id]);
    const params = await signInAndConsent(start.headers.get('location')!, { username: bsky.handle, password: bsky.password });
    const refused = await s.api('GET', `/v1/auth/bluesky/callback?${params}`, { headers: { Cookie: browserCookie(start) } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('claim_in_progress');

    await s.ds.query(`UPDATE users SET claimed_by = NULL WHERE id = $1`, [shadowId]);
    const again = await s.app.request(`/v1/auth/bluesky/login?handle=${bsky.handle}`, { headers: { Authorization: `Bearer ${real.token}` } });
    const login = await s.api('GET', `/v1/auth/bluesky/callback?${await signInAndConsent(again.headers.get('location')!, { username: bsky.handle, password: bsky.password })}`,
      { headers: { Cookie: browserCookie(again) } });
    expect(login.body.user.id).toBe(real.id);
    expect((await finished(real.token, login.body.operations[0].id)).status).toBe('completed');
    expect((await s.ds.query(`SELECT did FROM users WHERE id = $1`, [real.id]))[0].did).toBe(bsky.did);
  });

  it('a step that fails for good undoes the earlier ones: both accounts exactly as they were', async () => {
    const bsky = await blueskyAccount();
    const { real, shadowId } = await seed(bsky.did, bsky.handle);
    const before = await snapshot([real.id, shadowId]);
    // A rule the memberships step breaks on every attempt (after ownership and RSVPs moved).
    await s.ds.query(`CREATE FUNCTION refuse_${shadowId.slice(0, 8)}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'memberships are frozen' USING ERRCODE = 'check_violation'; END $$`);
    await s.ds.query(`CREATE TRIGGER refuse_${shadowId.slice(0, 8)} BEFORE UPDATE OR DELETE ON group_members
      FOR EACH ROW WHEN (OLD.user_id = '${shadowId}') EXECUTE FUNCTION refuse_${shadowId.slice(0, 8)}()`);
    try {
      const answer = await login(bsky, real.token);
      const op = await finished(real.token, answer.body.operations[0].id);
      expect(op.status).toBe('failed');
      expect(op.error.type).toBe(FAILURE.accountClaimFailed);
    } finally {
      await s.ds.query(`DROP TRIGGER refuse_${shadowId.slice(0, 8)} ON group_members`);
      await s.ds.query(`DROP FUNCTION refuse_${shadowId.slice(0, 8)}()`);
    }
    expect(await snapshot([real.id, shadowId])).toEqual(before);
    expect(await s.ds.query(`SELECT 1 FROM account_claim_journal WHERE did = $1`, [bsky.did])).toEqual([]);
  });

  it('a worker killed in the middle of a claim: the next worker completes it correctly', async () => {
    const bsky = await blueskyAccount();
    const { real, shadowId } = await seed(bsky.did, bsky.handle);
    await s.stopWorker();
    const first = await spawnWorker(s);
    // Hold one of the shadow's memberships so the claim stops in that step.
    const blocker = s.ds.createQueryRunner();
    await blocker.startTransaction();
    await blocker.query(`SELECT 1 FROM group_members WHERE user_id = $1 FOR UPDATE`, [shadowId]);
    try {
      const answer = await login(bsky, real.token);
      const id = answer.body.operations[0].id;
      await eventually(async () => (await s.api('GET', `/v1/operations/${id}`, { token: real.token })).body.progress?.step === 'moving group memberships');
      first.child.kill('SIGKILL');
      await first.exited;
    } finally {
      await blocker.rollbackTransaction();
      await blocker.release();
    }
    const second = await spawnWorker(s);
    try {
      const op = await finished(real.token, `claim-account:${bsky.did}`);
      expect(op.status).toBe('completed');
      await expectClaimed(real.id, shadowId);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
      await s.startWorker();
    }
  });

  it('Postgres cut off in the middle of a claim (every connection dropped, new ones refused): once it is back the claim completes correctly', async () => {
    const bsky = await blueskyAccount();
    const { real, shadowId } = await seed(bsky.did, bsky.handle);
    const blocker = s.ds.createQueryRunner(); // holds one membership so the claim stops in that step
    await blocker.startTransaction();
    await blocker.query(`SELECT 1 FROM group_members WHERE user_id = $1 FOR UPDATE`, [shadowId]);
    const answer = await login(bsky, real.token);
    const id = answer.body.operations[0].id;
    const handle = s.temporal.workflow.getHandle(id);
    await eventually(async () => (await handle.query<{ step: string }>('progress')).step === 'moving group memberships');
    await postgres.shut(); // the blocker's connection goes too: Postgres ends its transaction
    await eventually(async () => ((await handle.describe()).raw.pendingActivities ?? []).some((a) => (a.attempt ?? 0) >= 2),
      { timeoutMs: 60_000, intervalMs: 200 });
    await postgres.open();
    await blocker.release().catch(() => undefined);

    const op = await finished(real.token, id);
    expect(op.status).toBe('completed');
    await expectClaimed(real.id, shadowId);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';

// Group membership through the API, on the real Postgres, Temporal worker and Synapse.
let s: Stack;
beforeAll(async () => { s = await startStack(); await s.startWorker(); });
afterAll(async () => { await s?.close(); });

type User = Awaited<ReturnType<Stack['user']>>;
const mxid = (userSlug: string) => `@mf-${userSlug}:localhost`;
const group = async (owner: User, body: object) => {
  const res = await s.api('POST', '/v1/groups', { token: owner.token, body: { name: 'Hikers', ...body } });
  expect(res.status).toBe(201);
  return res.body.slug as string;
};
const members = async (slug: string, token: string, query = '') => s.api('GET', `/v1/groups/${slug}/members${query}`, { token });
const roles = async (slug: string, token: string) =>
  (await members(slug, token)).body.items.map((m: { user: { slug: string }; role: string }) => `${m.user.slug}:${m.role}`);

describe('group membership', () => {
  it('open group: join, list (owners first, paged), leave; repeats change nothing; the room follows the members', async () => {
    const owner = await s.user('Owner');
    const [a, b] = [await s.user('A'), await s.user('B')];
    const slug = await group(owner, { chatEnabled: true });
    expect((await s.api('GET', `/v1/groups/${slug}`, { token: a.token })).body.joining).toBe('open');

    const joined = await s.api('POST', `/v1/groups/${slug}/members`, { token: a.token });
    expect(joined.status).toBe(200);
    expect(joined.body).toMatchObject({ user: { slug: a.slug }, role: 'member', status: 'active', operations: [{ id: `chat-room:${slug}`, type: 'chat-room' }] });
    expect((await s.api('POST', `/v1/groups/${slug}/members`, { token: a.token })).body).toMatchObject({ role: 'member', status: 'active', operations: [] });
    await s.api('POST', `/v1/groups/${slug}/members`, { token: b.token });

    // Paged one at a time: owner, then members in the order they joined; the cursor is ours only.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await members(slug, a.token, `?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((m: { user: { slug: string }; role: string }) => `${m.user.slug}:${m.role}`));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([`${owner.slug}:owner`, `${a.slug}:member`, `${b.slug}:member`]);
    expect((await members(slug, a.token, '?cursor=bm90LW91cnM')).body.error.code).toBe('validation_failed');

    const [room] = await eventually(async () => {
      const rows = await s.ds.query(`SELECT c.room_id FROM chat_rooms c JOIN groups g ON g.id = c.group_id WHERE g.slug = $1 AND c.room_id IS NOT NULL`, [slug]);
      return rows.length ? rows : null;
    });
    await eventually(async () => (await s.matrix!.members(room.room_id)).includes(mxid(b.slug)), { timeoutMs: 60_000 });

    const left = await s.api('DELETE', `/v1/groups/${slug}/members/me`, { token: b.token });
    expect(left.body).toMatchObject({ role: null, status: 'none', operations: [{ id: `chat-room:${slug}` }] });
    expect((await s.api('DELETE', `/v1/groups/${slug}/members/me`, { token: b.token })).body).toMatchObject({ status: 'none', operations: [] });
    await eventually(async () => !(await s.matrix!.members(room.room_id)).includes(mxid(b.slug)), { timeoutMs: 60_000 });

    // Outsiders see nothing of the list; nobody can join a group that does not exist.
    expect((await members(slug, b.token)).status).toBe(403);
    expect((await s.api('POST', '/v1/groups/no-such-group-000000/members', { token: b.token })).status).toBe(404);
  });

  it('approval group: a request waits, admins see and approve or decline it; members cannot manage', async () => {
    const owner = await s.user('Owner');
    const [a, b, c] = [await s.user('A'), await s.user('B'), await s.user('C')];
    const slug = await group(owner, { joining: 'approval' });

    expect((await s.api('POST', `/v1/groups/${slug}/members`, { token: a.token })).body).toMatchObject({ role: null, status: 'requested' });
    await s.api('POST', `/v1/groups/${slug}/members`, { token: b.token });
    expect((await members(slug, a.token)).status).toBe(403); // a request is not a membership

    const requests = await members(slug, owner.token, '?status=requested');
    expect(requests.body.items.map((m: { user: { slug: string } }) => m.user.slug)).toEqual([a.slug, b.slug]);
    const approved = await s.api('PUT', `/v1/groups/${slug}/members/${a.slug}`, { token: owner.token, body: { role: 'member' } });
    expect(approved.body).toMatchObject({ role: 'member', status: 'active' });
    expect((await s.api('DELETE', `/v1/groups/${slug}/members/${b.slug}`, { token: owner.token })).body).toMatchObject({ status: 'none' });
    expect((await members(slug, owner.token, '?status=requested')).body.items).toEqual([]);

    // A member may neither see requests nor approve, promote or remove anyone.
    await s.api('POST', `/v1/groups/${slug}/members`, { token: c.token });
    expect((await members(slug, a.token, '?status=requested')).status).toBe(403);
    const refused = await s.api('PUT', `/v1/groups/${slug}/members/${c.slug}`, { token: a.token, body: { role: 'member' } });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
    expect((await s.api('PUT', `/v1/groups/${slug}/members/${a.slug}`, { token: a.token, body: { role: 'owner' } })).status).toBe(403);
    expect((await s.api('DELETE', `/v1/groups/${slug}/members/${owner.slug}`, { token: a.token })).status).toBe(403);
    // Nobody unknown is approved by mistake, and nothing is half-written on a refusal.
    expect((await s.api('PUT', `/v1/groups/${slug}/members/${b.slug}`, { token: owner.token, body: { role: 'member' } })).status).toBe(404);
    expect((await s.api('PUT', `/v1/groups/${slug}/members/${a.slug}`, { token: owner.token, body: { role: 'king' } })).status).toBe(400);
    expect(await roles(slug, owner.token)).toEqual([`${owner.slug}:owner`, `${a.slug}:member`]);

    // Deleting the group takes its waiting requests with it.
    await s.api('POST', `/v1/groups/${slug}/members`, { token: b.token });
    const deletion = await s.api('DELETE', `/v1/groups/${slug}`, { token: owner.token });
    expect((await s.finished(deletion.body.id, owner.token, { timeoutMs: 120_000 })).status).toBe('completed');
    expect(await s.ds.query(`SELECT 1 FROM group_join_requests WHERE user_id = $1`, [b.id])).toEqual([]);
  });

  it('roles: admins manage members but not owners; the last owner cannot leave or be demoted, even by two owners at once', async () => {
    const owner = await s.user('Owner');
    const [admin, m1, second] = [await s.user('Admin'), await s.user('M1'), await s.user('Second')];
    const slug = await group(owner, {});
    for (const u of [admin, m1, second]) await s.api('POST', `/v1/groups/${slug}/members`, { token: u.token });
    expect((await s.api('PUT', `/v1/groups/${slug}/members/${admin.slug}`, { token: owner.token, body: { role: 'admin' } })).body.role).toBe('admin');

    // An admin manages members (and may manage the group's events), never the owner role.
    expect((await s.api('PUT', `/v1/groups/${slug}/members/${m1.slug}`, { token: admin.token, body: { role: 'admin' } })).body.role).toBe('admin');
    expect((await s.api('DELETE', `/v1/groups/${slug}/members/${m1.slug}`, { token: admin.token })).body.status).toBe('none');
    expect((await s.api('PUT', `/v1/groups/${slug}/members/${second.slug}`, { token: admin.token, body: { role: 'owner' } })).status).toBe(403);
    expect((await s.api('DELETE', `/v1/groups/${slug}/members/${owner.slug}`, { token: admin.token })).status).toBe(403);

    const last = await s.api('DELETE', `/v1/groups/${slug}/members/me`, { token: owner.token });
    expect([last.status, last.body.error.code]).toEqual([409, 'last_owner']);
    expect((await s.api('PUT', `/v1/groups/${slug}/members/${owner.slug}`, { token: owner.token, body: { role: 'member' } })).body.error.code).toBe('last_owner');

    // Two owners demote each other at the same moment: one wins, the group keeps an owner.
    expect((await s.api('PUT', `/v1/groups/${slug}/members/${second.slug}`, { token: owner.token, body: { role: 'owner' } })).body.role).toBe('owner');
    const both = await Promise.all([
      s.api('PUT', `/v1/groups/${slug}/members/${second.slug}`, { token: owner.token, body: { role: 'member' } }),
      s.api('PUT', `/v1/groups/${slug}/members/${owner.slug}`, { token: second.token, body: { role: 'member' } }),
    ]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 403]); // the loser is no longer an owner
    const [{ owners }] = await s.ds.query(
      `SELECT count(*)::int AS owners FROM group_members m JOIN groups g ON g.id = m.group_id WHERE g.slug = $1 AND m.role = 'owner'`, [slug]);
    expect(owners).toBe(1);

    // The first owner hands over and leaves: groups.owner_id names the one left, who may delete the group.
    const keeper = both[0].status === 200 ? owner : second;
    const goer = keeper === owner ? second : owner;
    await s.api('PUT', `/v1/groups/${slug}/members/${goer.slug}`, { token: keeper.token, body: { role: 'owner' } });
    expect((await s.api('DELETE', `/v1/groups/${slug}/members/me`, { token: keeper.token })).body.status).toBe('none');
    const [g] = await s.ds.query(`SELECT owner_id FROM groups WHERE slug = $1`, [slug]);
    expect(g.owner_id).toBe(goer.id);
    expect((await s.api('DELETE', `/v1/groups/${slug}`, { token: keeper.token })).status).toBe(403);
    const deletion = await s.api('DELETE', `/v1/groups/${slug}`, { token: goer.token });
    expect(deletion.status).toBe(202);
    expect((await s.finished(deletion.body.id, goer.token, { timeoutMs: 120_000 })).status).toBe('completed');
    expect(await s.ds.query(`SELECT 1 FROM groups WHERE slug = $1`, [slug])).toEqual([]);
  });
});

import type { DataSource, EntityManager } from 'typeorm';
import { changedRows } from './changed-rows.ts';
import { GroupEntity, GroupMemberEntity, type Group } from './entities/group.ts';

/** The `groups`, `group_members` and `group_join_requests` tables. */
type Q = DataSource | EntityManager;

/** The tombstone: no new events in the group. Answers its id, or null when it is gone. */
export async function tombstoneGroup(q: Q, slug: string): Promise<string | null> {
  const [row] = await changedRows(q, `UPDATE groups SET status = 'deleting', updated_at = now() WHERE slug = $1 RETURNING id`, [slug]);
  return row?.id ?? null;
}

export async function groupIdBySlug(q: Q, slug: string): Promise<string | null> {
  const [g] = await q.query(`SELECT id FROM groups WHERE slug = $1`, [slug]);
  return g?.id ?? null;
}

/** The group's rows last: its members, join requests and the group itself. */
export async function deleteGroupRows(m: EntityManager, groupId: string): Promise<void> {
  await m.query(`DELETE FROM group_members WHERE group_id = $1`, [groupId]);
  await m.query(`DELETE FROM group_join_requests WHERE group_id = $1`, [groupId]);
  await m.query(`DELETE FROM groups WHERE id = $1`, [groupId]);
}

export type GroupRole = 'owner' | 'admin' | 'member';
export interface LockedGroup { id: string; slug: string; joining: 'open' | 'approval'; chatEnabled: boolean }

/** Locks an active group's row: membership changes of one group happen one at a time. */
export async function lockActiveGroup(m: EntityManager, slug: string): Promise<LockedGroup | undefined> {
  const [g] = await m.query(
    `SELECT id, slug, joining, chat_enabled AS "chatEnabled" FROM groups WHERE slug = $1 AND status = 'active' FOR UPDATE`, [slug]);
  return g;
}

export async function activeGroupId(q: Q, slug: string): Promise<string | null> {
  const [group] = await q.query(`SELECT id FROM groups WHERE slug = $1 AND status = 'active'`, [slug]);
  return group?.id ?? null;
}

export async function memberRow(q: Q, groupId: string, userId: string): Promise<{ role: GroupRole; created_at: Date } | undefined> {
  const [member] = await q.query(`SELECT role, created_at FROM group_members WHERE group_id = $1 AND user_id::text = $2`, [groupId, userId]);
  return member;
}

export async function joinRequestRow(q: Q, groupId: string, userId: string): Promise<{ created_at: Date } | undefined> {
  const [request] = await q.query(`SELECT created_at FROM group_join_requests WHERE group_id = $1 AND user_id = $2`, [groupId, userId]);
  return request;
}

export async function insertJoinRequest(m: EntityManager, groupId: string, userId: string): Promise<void> {
  await m.query(`INSERT INTO group_join_requests (group_id, user_id) VALUES ($1, $2)`, [groupId, userId]);
}

export async function deleteJoinRequest(m: EntityManager, groupId: string, userId: string): Promise<void> {
  await m.query(`DELETE FROM group_join_requests WHERE group_id = $1 AND user_id = $2`, [groupId, userId]);
}

export async function insertMember(m: EntityManager, groupId: string, userId: string, role: GroupRole): Promise<void> {
  await m.query(`INSERT INTO group_members (group_id, user_id, role) VALUES ($1, $2, $3)`, [groupId, userId, role]);
}

export async function setMemberRole(m: EntityManager, groupId: string, userId: string, role: GroupRole): Promise<void> {
  await m.query(`UPDATE group_members SET role = $3 WHERE group_id = $1 AND user_id = $2`, [groupId, userId, role]);
}

export async function deleteMember(m: EntityManager, groupId: string, userId: string): Promise<void> {
  await m.query(`DELETE FROM group_members WHERE group_id = $1 AND user_id = $2`, [groupId, userId]);
}

export async function ownerCount(m: EntityManager, groupId: string): Promise<number> {
  const [owners] = await m.query(`SELECT count(*)::int AS n FROM group_members WHERE group_id = $1 AND role = 'owner'`, [groupId]);
  return owners.n;
}

/** `groups.owner_id` names a current owner (the earliest) whenever the one it names is no longer one. */
export async function nameAnOwner(m: EntityManager, groupId: string): Promise<void> {
  await m.query(
    `UPDATE groups g SET owner_id = o.user_id, updated_at = now()
       FROM (SELECT user_id FROM group_members WHERE group_id = $1 AND role = 'owner' ORDER BY created_at, user_id LIMIT 1) o
      WHERE g.id = $1 AND g.owner_id IS DISTINCT FROM o.user_id
        AND NOT EXISTS (SELECT 1 FROM group_members WHERE group_id = $1 AND user_id = g.owner_id AND role = 'owner')`, [groupId]);
}

export const groupBySlug = (q: Q, slug: string): Promise<Group | null> => q.getRepository(GroupEntity).findOneBy({ slug });

/** A new group with its creator as its owner. */
export async function insertGroup(m: EntityManager, fields: Pick<Group, 'slug' | 'name' | 'description' | 'ownerId' | 'chatEnabled' | 'joining'>): Promise<Group> {
  const g = await m.getRepository(GroupEntity).save(m.getRepository(GroupEntity).create(fields));
  await m.getRepository(GroupMemberEntity).insert({ groupId: g.id, userId: fields.ownerId, role: 'owner' });
  return g;
}

/**
 * A page of a group's members (owners, admins, then members, oldest first) or of its join
 * requests (oldest first), after the keyset `after` (rank, since, user id).
 */
export function membersPage(q: Q, groupId: string, status: 'active' | 'requested', after: [number, string, string] | null, limit: number) {
  const source = status === 'requested'
    ? `SELECT user_id, NULL::text AS role, 0 AS rank, created_at FROM group_join_requests WHERE group_id = $1`
    : `SELECT user_id, role, array_position(ARRAY['owner', 'admin', 'member'], role) AS rank, created_at FROM group_members WHERE group_id = $1`;
  return q.query(
    `SELECT u.id, u.slug, u.display_name, s.role, s.rank, s.created_at AS since, s.created_at::text AS key FROM (${source}) s JOIN users u ON u.id = s.user_id
      WHERE $2::int IS NULL OR (s.rank, s.created_at, s.user_id) > ($2::int, $3::timestamptz, $4::uuid)
      ORDER BY s.rank, s.created_at, s.user_id LIMIT $5`,
    [groupId, after?.[0] ?? null, after?.[1] ?? null, after?.[2] ?? null, limit]) as Promise<
      { id: string; slug: string; display_name: string; role: GroupRole | null; rank: number; since: Date; key: string }[]>;
}

/** Is the user a member of the group, in any role? */
export async function isMember(q: Q, groupId: string, userId: string): Promise<boolean> {
  return (await memberRow(q, groupId, userId)) !== undefined;
}

/** Owner or admin of the group? */
export async function isGroupManager(q: Q, groupId: string, userId: string): Promise<boolean> {
  const member = await memberRow(q, groupId, userId);
  return member?.role === 'owner' || member?.role === 'admin';
}

/** Slugs of groups by id. */
export async function groupSlugs(q: Q, ids: string[]): Promise<Map<string, string>> {
  const rows: { id: string; slug: string }[] = await q.query(`SELECT id, slug FROM groups WHERE id = ANY($1::uuid[])`, [ids]);
  return new Map(rows.map((g) => [g.id, g.slug]));
}

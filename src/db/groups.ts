import type { DataSource, EntityManager } from 'typeorm';
import { changedRows } from './changed-rows.ts';

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

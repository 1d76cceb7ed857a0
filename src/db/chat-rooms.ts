import type { DataSource, EntityManager } from 'typeorm';
import { changedRows } from './changed-rows.ts';
import { prepared } from './prepared.ts';

/**
 * The `chat_rooms` table. A room's status: `provisioning` → `active` → `deleting` (being closed;
 * an undone deletion reopens it) → `purging` (gone for good on the homeserver) → `deleted`.
 */
type Q = DataSource | EntityManager;
export type RoomOwner = { kind: 'event' | 'group'; id: string };
export interface RoomRow { id: string; alias: string; room_id: string | null; status: string; notice_sent_at: Date | null }

const column = (owner: RoomOwner) => (owner.kind === 'event' ? 'event_id' : 'group_id');

/** The owner's room, created as `provisioning` with its alias the first time. */
export async function ensureRoomRow(q: Q, owner: RoomOwner, alias: string): Promise<Pick<RoomRow, 'id' | 'room_id' | 'status'>> {
  await q.query(`INSERT INTO chat_rooms (${column(owner)}, alias) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [owner.id, alias]);
  const [row] = await q.query(`SELECT id, room_id, status FROM chat_rooms WHERE ${column(owner)} = $1`, [owner.id]);
  return row;
}

/** The homeserver's room id, once: the room is active from now on. */
export async function setRoomCreated(q: Q, id: string, roomId: string): Promise<void> {
  await q.query(`UPDATE chat_rooms SET room_id = $2, status = 'active', updated_at = now() WHERE id = $1 AND room_id IS NULL`, [id, roomId]);
}

/** The homeserver's id of the owner's active room, if any. */
export async function activeRoomId(q: Q, owner: RoomOwner): Promise<string | null> {
  const [room] = await q.query(`SELECT room_id FROM chat_rooms WHERE ${column(owner)} = $1 AND status = 'active'`, [owner.id]);
  return room?.room_id ?? null;
}

/** The owner's room that is not deleted yet: the one a deletion closes. */
export async function liveRoomOf(q: Q, owner: RoomOwner): Promise<{ id: string; alias: string } | null> {
  const [room] = await q.query(`SELECT id, alias FROM chat_rooms WHERE ${column(owner)} = $1 AND status <> 'deleted'`, [owner.id]);
  return room ? { id: room.id, alias: room.alias } : null;
}

/** Rooms of events that ended before `endedBefore`, in id order after `afterId`. */
export function expiredRooms(q: Q, p: { endedBefore: string; afterId: string | null; limit: number }): Promise<{ id: string; alias: string; room_id: string | null }[]> {
  return q.query(
    `SELECT c.id, c.alias, c.room_id FROM chat_rooms c JOIN events e ON e.id = c.event_id
      WHERE c.status <> 'deleted' AND e.end_at < $1 AND ($2::uuid IS NULL OR c.id > $2::uuid)
      ORDER BY c.id LIMIT $3`, [p.endedBefore, p.afterId, p.limit]);
}

/**
 * Moves the room on to `status` unless it is in one of `further` already, and answers the row as
 * it is now (undefined: no such room), in one statement. This and the other marks of a closing run
 * prepared: retention makes four of them per room (bench/chat-retention.ts).
 */
const MOVE_ROOM_ON = prepared<RoomRow>(
  `WITH moved AS (
     UPDATE chat_rooms SET status = $2, updated_at = now() WHERE id = $1 AND status <> ALL($3::text[])
     RETURNING id, alias, room_id, status, notice_sent_at)
   SELECT * FROM moved
   UNION ALL SELECT id, alias, room_id, status, notice_sent_at FROM chat_rooms WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM moved)`);
const NOTICE_SENT = prepared(`UPDATE chat_rooms SET notice_sent_at = now() WHERE id = $1`);
const ROOM_DELETED = prepared(`UPDATE chat_rooms SET status = 'deleted', deleted_at = coalesce(deleted_at, now()), updated_at = now() WHERE id = $1`);

const moveRoomOn = async (q: Q, id: string, status: string, further: string[]): Promise<RoomRow | undefined> =>
  (await MOVE_ROOM_ON(q, [id, status, further]))[0];

/** Being closed: no more provisioning (a purge or a deletion already further on is left alone). */
export const markRoomClosing = (q: Q, id: string) => moveRoomOn(q, id, 'deleting', ['purging', 'deleted']);

export async function markNoticeSent(q: Q, id: string): Promise<void> {
  await NOTICE_SENT(q, [id]);
}

/** From here the room is gone for good: a deletion undone later must not reopen it. */
export const markRoomPurging = (q: Q, id: string) => moveRoomOn(q, id, 'purging', ['deleted']);

export async function markRoomDeleted(q: Q, id: string): Promise<void> {
  await ROOM_DELETED(q, [id]);
}

/** An undone event deletion reopens a room it had begun to close; answers whether there was one. */
export async function reopenEventRoom(m: EntityManager, eventId: string): Promise<boolean> {
  const reopened = await changedRows(m,
    `UPDATE chat_rooms SET status = CASE WHEN room_id IS NULL THEN 'provisioning' ELSE 'active' END, updated_at = now()
      WHERE event_id = $1 AND status = 'deleting' RETURNING id`, [eventId]);
  return reopened.length > 0;
}

/** The row of the owner's room, when the owner's row goes. */
export async function deleteRoomRow(m: EntityManager, owner: RoomOwner): Promise<void> {
  await m.query(`DELETE FROM chat_rooms WHERE ${column(owner)} = $1`, [owner.id]);
}

/** The event or group a room belongs to, by slug. */
export async function roomOwnerBySlug(q: Q, t: { kind: 'event' | 'group'; slug: string }) {
  const [row] = await q.query(
    `SELECT id, name, description, status, chat_enabled FROM ${t.kind === 'event' ? 'events' : 'groups'} WHERE slug = $1`, [t.slug]);
  return row as { id: string; name: string; description: string | null; status: string; chat_enabled: boolean } | undefined;
}

export interface Member { id: string; slug: string; display_name: string; matrix_user_id: string | null }

/** Who belongs in the room: an event's confirmed attendees and its host, or a group's members. */
export function wantedMembers(q: Q, owner: RoomOwner): Promise<Member[]> {
  return owner.kind === 'event'
    ? q.query(
      `SELECT u.id, u.slug, u.display_name, u.matrix_user_id FROM users u
        WHERE u.id IN (SELECT user_id FROM attendees WHERE event_id = $1 AND status = 'confirmed'
                       UNION SELECT owner_id FROM events WHERE id = $1)`, [owner.id])
    : q.query(
      `SELECT u.id, u.slug, u.display_name, u.matrix_user_id FROM users u
         JOIN group_members m ON m.user_id = u.id WHERE m.group_id = $1`, [owner.id]);
}

import { activityInfo, ApplicationFailure, heartbeat, log } from '@temporalio/activity';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config.ts';
import type { FollowUpRelay } from '../../follow-ups/outbox.ts';
import { isRejection, type MatrixClient } from '../../matrix/client.ts';
import type { ChatTarget } from '../../temporal/contracts.ts';
import { FAILURE } from '../../temporal/failures.ts';

export type EnsureRoomResult = { state: 'ready'; roomId: string } | { state: 'disabled' | 'gone' };
export interface ExpiredRoom { id: string; alias: string; roomId: string | null }

interface RoomRow { id: string; alias: string; room_id: string | null; status: string; notice_sent_at: Date | null }

export interface ChatDeps { ds: DataSource; matrix: MatrixClient | null; config: Config; followUps: FollowUpRelay }

export function chatActivities({ ds, matrix, config, followUps }: ChatDeps) {
  const homeserver = (): MatrixClient => {
    if (!matrix) throw ApplicationFailure.create({ type: FAILURE.chatNotConfigured, message: 'no Matrix homeserver configured', nonRetryable: true });
    return matrix;
  };

  /** Marks the room as going (no more provisioning) and answers its row. */
  async function closingRoom(id: string): Promise<RoomRow> {
    await ds.query(`UPDATE chat_rooms SET status = 'deleting', updated_at = now() WHERE id = $1 AND status NOT IN ('purging', 'deleted')`, [id]);
    return roomRow(id);
  }

  async function roomRow(id: string): Promise<RoomRow> {
    const [row] = await ds.query(`SELECT id, alias, room_id, status, notice_sent_at FROM chat_rooms WHERE id = $1`, [id]);
    if (!row) throw ApplicationFailure.create({ type: FAILURE.chatRoomNotFound, message: `chat room ${id} not found`, nonRetryable: true });
    return row;
  }

  /** The Matrix id of a meetflow user, creating the account on the homeserver the first time. */
  async function matrixUserOf(user: { id: string; slug: string; display_name: string; matrix_user_id: string | null }) {
    if (user.matrix_user_id) return user.matrix_user_id;
    const mxid = await homeserver().ensureUser(`mf-${user.slug}`, user.display_name);
    await ds.query(`UPDATE users SET matrix_user_id = $2 WHERE id = $1 AND matrix_user_id IS NULL`, [user.id, mxid]);
    return mxid;
  }

  async function target(t: ChatTarget) {
    const table = t.kind === 'event' ? 'events' : 'groups';
    const [row] = await ds.query(
      `SELECT id, name, description, status, chat_enabled FROM ${table} WHERE slug = $1`, [t.slug]);
    return row as { id: string; name: string; description: string | null; status: string; chat_enabled: boolean } | undefined;
  }

  return {
    /** Creates the entity's room once (deterministic alias), stores its id, keeps name/topic current. */
    async ensureChatRoom(t: ChatTarget): Promise<EnsureRoomResult> {
      if (!config.CHAT_ENABLED) return { state: 'disabled' };
      const entity = await target(t);
      if (!entity || entity.status === 'deleting') return { state: 'gone' };
      if (!entity.chat_enabled) return { state: 'disabled' };
      const column = t.kind === 'event' ? 'event_id' : 'group_id';
      const alias = `meetflow-${t.kind}-${t.slug}`;
      await ds.query(`INSERT INTO chat_rooms (${column}, alias) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [entity.id, alias]);
      const [row] = await ds.query(`SELECT id, room_id, status FROM chat_rooms WHERE ${column} = $1`, [entity.id]);
      if (row.status === 'deleting' || row.status === 'purging' || row.status === 'deleted') return { state: 'gone' };
      const topic = [entity.description?.slice(0, 300), `${config.PUBLIC_BASE_URL}/${t.kind}s/${t.slug}`].filter(Boolean).join(' — ');
      if (row.room_id) {
        await homeserver().setNameAndTopic(row.room_id, entity.name, topic);
        return { state: 'ready', roomId: row.room_id };
      }
      const roomId = await homeserver().createRoom(alias, entity.name, topic);
      // Targeted update: never a save of a whole (possibly stale) entity.
      await ds.query(`UPDATE chat_rooms SET room_id = $2, status = 'active', updated_at = now() WHERE id = $1 AND room_id IS NULL`, [row.id, roomId]);
      log.info('chat room created', { alias, roomId });
      return { state: 'ready', roomId };
    },

    /** Invites who should be in the room (confirmed attendees and the host, or group members) and removes the rest. */
    async syncChatMembers(t: ChatTarget): Promise<{ invited: number; removed: number }> {
      const entity = await target(t);
      if (!entity) return { invited: 0, removed: 0 };
      const [room] = await ds.query(`SELECT room_id FROM chat_rooms WHERE ${t.kind === 'event' ? 'event_id' : 'group_id'} = $1 AND status = 'active'`, [entity.id]);
      if (!room?.room_id) return { invited: 0, removed: 0 };
      const wanted = t.kind === 'event'
        ? await ds.query(
          `SELECT u.id, u.slug, u.display_name, u.matrix_user_id FROM users u
            WHERE u.id IN (SELECT user_id FROM attendees WHERE event_id = $1 AND status = 'confirmed'
                           UNION SELECT owner_id FROM events WHERE id = $1)`, [entity.id])
        : await ds.query(
          `SELECT u.id, u.slug, u.display_name, u.matrix_user_id FROM users u
             JOIN group_members m ON m.user_id = u.id WHERE m.group_id = $1`, [entity.id]);
      const mx = homeserver();
      const bot = await mx.whoami();
      const desired = new Set<string>();
      for (const user of wanted) desired.add(await matrixUserOf(user));
      const current = new Set((await mx.members(room.room_id)).filter((m) => m !== bot));
      let invited = 0;
      let removed = 0;
      for (const m of desired) if (!current.has(m)) { await mx.invite(room.room_id, m); invited++; if (invited % 50 === 0) heartbeat(); }
      for (const m of current) if (!desired.has(m)) { await mx.kick(room.room_id, m, 'no longer attending'); removed++; if (removed % 50 === 0) heartbeat(); }
      return { invited, removed };
    },

    /** Rooms of events that ended before `endedBefore`, in id order after `afterId`. */
    async findExpiredChatRooms(q: { endedBefore: string; afterId: string | null; limit: number }): Promise<ExpiredRoom[]> {
      const rows = await ds.query(
        `SELECT c.id, c.alias, c.room_id FROM chat_rooms c JOIN events e ON e.id = c.event_id
          WHERE c.status <> 'deleted' AND e.end_at < $1 AND ($2::uuid IS NULL OR c.id > $2::uuid)
          ORDER BY c.id LIMIT $3`, [q.endedBefore, q.afterId, q.limit]);
      return rows.map((r: { id: string; alias: string; room_id: string | null }) => ({ id: r.id, alias: r.alias, roomId: r.room_id }));
    },

    /** Marks the room as going (no more provisioning) and tells its members, once. */
    async postRetentionNotice(chatRoomId: string): Promise<void> {
      const row = await closingRoom(chatRoomId);
      if (!row.room_id || row.notice_sent_at || row.status === 'deleted') return;
      await homeserver().sendNotice(row.room_id, `retention-${chatRoomId}`,
        'This event has ended and its chat room is being closed. Thanks for taking part!')
        .catch((err) => { if (!isRejection(err)) throw err; }); // room gone: nobody to tell
      await ds.query(`UPDATE chat_rooms SET notice_sent_at = now() WHERE id = $1`, [chatRoomId]);
    },

    async removeChatMembers(chatRoomId: string): Promise<number> {
      const row = await closingRoom(chatRoomId);
      if (!row.room_id || row.status === 'deleted') return 0;
      const mx = homeserver();
      const bot = await mx.whoami();
      const members = (await mx.members(row.room_id!)).filter((m) => m !== bot);
      for (const [i, m] of members.entries()) {
        await mx.kick(row.room_id!, m, 'chat room closed');
        if (i % 50 === 49) heartbeat(i + 1);
      }
      return members.length;
    },

    /** Deletes and purges the room on the homeserver; an unknown or already purged room is success. */
    async purgeChatRoom(chatRoomId: string): Promise<void> {
      // From here the room is gone for good: a deletion undone later must not reopen it.
      await ds.query(`UPDATE chat_rooms SET status = 'purging', updated_at = now() WHERE id = $1 AND status <> 'deleted'`, [chatRoomId]);
      const row = await roomRow(chatRoomId);
      if (!row.room_id || row.status === 'deleted') return;
      await homeserver().purgeRoom(row.room_id, () => heartbeat());
    },

    async markChatRoomDeleted(chatRoomId: string): Promise<void> {
      await ds.query(`UPDATE chat_rooms SET status = 'deleted', deleted_at = coalesce(deleted_at, now()), updated_at = now() WHERE id = $1`, [chatRoomId]);
    },

    /** Wakes `chat-room:<event slug>` after membership-relevant changes made inside a workflow. */
    async requestEventChatSync(eventSlug: string): Promise<boolean> {
      if (!config.CHAT_ENABLED) return false;
      const [event] = await ds.query(`SELECT chat_enabled FROM events WHERE slug = $1 AND status <> 'deleting'`, [eventSlug]);
      if (!event?.chat_enabled) return false;
      await followUps.now([{ type: 'chat-room', slug: eventSlug }]);
      log.info('chat sync requested', { eventSlug, attempt: activityInfo().attempt });
      return true;
    },
  };
}

import { activityInfo, ApplicationFailure, heartbeat, log } from '@temporalio/activity';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config.ts';
import type { FollowUpRelay } from '../../follow-ups/outbox.ts';
import { isRejection, type MatrixClient } from '../../matrix/client.ts';
import type { ChatTarget } from '../../temporal/contracts.ts';
import { FAILURE } from '../../temporal/failures.ts';
import {
  activeRoomId, ensureRoomRow, expiredRooms, markNoticeSent, markRoomClosing, markRoomDeleted, markRoomPurging, roomById,
  roomOwnerBySlug, setRoomCreated, wantedMembers, type Member, type RoomRow,
} from '../../db/chat-rooms.ts';
import { eventBySlug } from '../../db/events.ts';
import { setMatrixUserId } from '../../db/users.ts';

export type EnsureRoomResult = { state: 'ready'; roomId: string } | { state: 'disabled' | 'gone' };
export interface ExpiredRoom { id: string; alias: string; roomId: string | null }

export interface ChatDeps { ds: DataSource; matrix: MatrixClient | null; config: Config; followUps: FollowUpRelay }

export function chatActivities({ ds, matrix, config, followUps }: ChatDeps) {
  const homeserver = (): MatrixClient => {
    if (!matrix) throw ApplicationFailure.create({ type: FAILURE.chatNotConfigured, message: 'no Matrix homeserver configured', nonRetryable: true });
    return matrix;
  };

  /** Marks the room as going (no more provisioning) and answers its row. */
  async function closingRoom(id: string): Promise<RoomRow> {
    await markRoomClosing(ds, id);
    return roomRow(id);
  }

  async function roomRow(id: string): Promise<RoomRow> {
    const row = await roomById(ds, id);
    if (!row) throw ApplicationFailure.create({ type: FAILURE.chatRoomNotFound, message: `chat room ${id} not found`, nonRetryable: true });
    return row;
  }

  /** The Matrix id of a meetflow user, creating the account on the homeserver the first time. */
  async function matrixUserOf(user: Member) {
    if (user.matrix_user_id) return user.matrix_user_id;
    const mxid = await homeserver().ensureUser(`mf-${user.slug}`, user.display_name);
    await setMatrixUserId(ds, user.id, mxid);
    return mxid;
  }

  return {
    /** Creates the entity's room once (deterministic alias), stores its id, keeps name/topic current. */
    async ensureChatRoom(t: ChatTarget): Promise<EnsureRoomResult> {
      if (!config.CHAT_ENABLED) return { state: 'disabled' };
      const entity = await roomOwnerBySlug(ds, t);
      if (!entity || entity.status === 'deleting') return { state: 'gone' };
      if (!entity.chat_enabled) return { state: 'disabled' };
      const alias = `meetflow-${t.kind}-${t.slug}`;
      const row = await ensureRoomRow(ds, { kind: t.kind, id: entity.id }, alias);
      if (row.status === 'deleting' || row.status === 'purging' || row.status === 'deleted') return { state: 'gone' };
      const topic = [entity.description?.slice(0, 300), `${config.PUBLIC_BASE_URL}/${t.kind}s/${t.slug}`].filter(Boolean).join(' — ');
      if (row.room_id) {
        await homeserver().setNameAndTopic(row.room_id, entity.name, topic);
        return { state: 'ready', roomId: row.room_id };
      }
      const roomId = await homeserver().createRoom(alias, entity.name, topic);
      await setRoomCreated(ds, row.id, roomId);
      log.info('chat room created', { alias, roomId });
      return { state: 'ready', roomId };
    },

    /** Invites who should be in the room (confirmed attendees and the host, or group members) and removes the rest. */
    async syncChatMembers(t: ChatTarget): Promise<{ invited: number; removed: number }> {
      const entity = await roomOwnerBySlug(ds, t);
      if (!entity) return { invited: 0, removed: 0 };
      const owner = { kind: t.kind, id: entity.id };
      const roomId = await activeRoomId(ds, owner);
      if (!roomId) return { invited: 0, removed: 0 };
      const wanted = await wantedMembers(ds, owner);
      const mx = homeserver();
      const bot = await mx.whoami();
      const desired = new Set<string>();
      for (const user of wanted) desired.add(await matrixUserOf(user));
      const current = new Set((await mx.members(roomId)).filter((m) => m !== bot));
      let invited = 0;
      let removed = 0;
      for (const m of desired) if (!current.has(m)) { await mx.invite(roomId, m); invited++; if (invited % 50 === 0) heartbeat(); }
      for (const m of current) if (!desired.has(m)) { await mx.kick(roomId, m, 'no longer attending'); removed++; if (removed % 50 === 0) heartbeat(); }
      return { invited, removed };
    },

    /** Rooms of events that ended before `endedBefore`, in id order after `afterId`. */
    async findExpiredChatRooms(q: { endedBefore: string; afterId: string | null; limit: number }): Promise<ExpiredRoom[]> {
      return (await expiredRooms(ds, q)).map((r) => ({ id: r.id, alias: r.alias, roomId: r.room_id }));
    },

    /** Marks the room as going (no more provisioning) and tells its members, once. */
    async postRetentionNotice(chatRoomId: string): Promise<void> {
      const row = await closingRoom(chatRoomId);
      if (!row.room_id || row.notice_sent_at || row.status === 'deleted') return;
      await homeserver().sendNotice(row.room_id, `retention-${chatRoomId}`,
        'This event has ended and its chat room is being closed. Thanks for taking part!')
        .catch((err) => { if (!isRejection(err)) throw err; }); // room gone: nobody to tell
      await markNoticeSent(ds, chatRoomId);
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
      await markRoomPurging(ds, chatRoomId);
      const row = await roomRow(chatRoomId);
      if (!row.room_id || row.status === 'deleted') return;
      await homeserver().purgeRoom(row.room_id, () => heartbeat());
    },

    async markChatRoomDeleted(chatRoomId: string): Promise<void> {
      await markRoomDeleted(ds, chatRoomId);
    },

    /** Wakes `chat-room:<event slug>` after membership-relevant changes made inside a workflow. */
    async requestEventChatSync(eventSlug: string): Promise<boolean> {
      if (!config.CHAT_ENABLED) return false;
      const event = await eventBySlug(ds, eventSlug);
      if (!event?.chatEnabled || event.status === 'deleting') return false;
      await followUps.now([{ type: 'chat-room', slug: eventSlug }]);
      log.info('chat sync requested', { eventSlug, attempt: activityInfo().attempt });
      return true;
    },
  };
}

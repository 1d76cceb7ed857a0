import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import { isRejection } from '../../matrix/client.ts';
import { FAILURE } from '../../temporal/failures.ts';
import { expiredRooms, markNoticeSent, markRoomClosing, markRoomDeleted, markRoomPurging, roomById, type RoomRow } from '../../db/chat-rooms.ts';
import { requireHomeserver, type ChatDeps } from './homeserver.ts';

export interface ExpiredRoom { id: string; alias: string; roomId: string | null }

/** Closing rooms: found by retention (or a deletion), told, emptied, purged on the homeserver, marked deleted. */
export function retentionActivities({ ds, matrix }: ChatDeps) {
  const homeserver = () => requireHomeserver(matrix);

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

  /** Marks the room as going (no more provisioning) and tells its members, once. */
  async function postRetentionNotice(chatRoomId: string): Promise<void> {
    const row = await closingRoom(chatRoomId);
    if (!row.room_id || row.notice_sent_at || row.status === 'deleted') return;
    await homeserver().sendNotice(row.room_id, `retention-${chatRoomId}`,
      'This event has ended and its chat room is being closed. Thanks for taking part!')
      .catch((err) => { if (!isRejection(err)) throw err; }); // room gone: nobody to tell
    await markNoticeSent(ds, chatRoomId);
  }

  async function removeChatMembers(chatRoomId: string): Promise<number> {
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
  }

  /** Deletes and purges the room on the homeserver; an unknown or already purged room is success. */
  async function purgeChatRoom(chatRoomId: string): Promise<void> {
    await markRoomPurging(ds, chatRoomId);
    const row = await roomRow(chatRoomId);
    if (!row.room_id || row.status === 'deleted') return;
    await homeserver().purgeRoom(row.room_id, () => heartbeat());
  }

  return {
    /** Rooms of events that ended before `endedBefore`, in id order after `afterId`. */
    async findExpiredChatRooms(q: { endedBefore: string; afterId: string | null; limit: number }): Promise<ExpiredRoom[]> {
      return (await expiredRooms(ds, q)).map((r) => ({ id: r.id, alias: r.alias, roomId: r.room_id }));
    },

    /**
     * The room closed on the homeserver in one activity: the notice (once, when asked), members
     * removed, deleted and purged; answers how many members were removed. Each part is idempotent,
     * so a retry after any of them does only what is left (bench/chat-retention.ts: three activity
     * tasks per room cost a fifth of the run).
     */
    async closeChatRoom(input: { chatRoomId: string; notice: boolean }): Promise<number> {
      if (input.notice) await postRetentionNotice(input.chatRoomId);
      const removed = await removeChatMembers(input.chatRoomId);
      await purgeChatRoom(input.chatRoomId);
      return removed;
    },

    // The same parts one activity each: what runs recorded before `closeChatRoom` schedule.
    postRetentionNotice, removeChatMembers, purgeChatRoom,

    async markChatRoomDeleted(chatRoomId: string): Promise<void> {
      await markRoomDeleted(ds, chatRoomId);
    },
  };
}

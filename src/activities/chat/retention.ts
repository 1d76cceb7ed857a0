import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import { isRejection } from '../../matrix/client.ts';
import { FAILURE } from '../../temporal/failures.ts';
import { expiredRooms, markNoticeSent, markRoomClosing, markRoomDeleted, markRoomPurging, type RoomRow } from '../../db/chat-rooms.ts';
import { requireHomeserver, type ChatDeps } from './homeserver.ts';

/** Heartbeats of a purge start after this long (the activity's heartbeat timeout: 1 minute). */
const PURGE_QUIET_MS = 5_000;

export interface ExpiredRoom { id: string; alias: string; roomId: string | null }

/** Closing rooms: found by retention (or a deletion), told, emptied, purged on the homeserver, marked deleted. */
export function retentionActivities({ ds, matrix }: ChatDeps) {
  const homeserver = () => requireHomeserver(matrix);

  function found(id: string, row: RoomRow | undefined): RoomRow {
    if (!row) throw ApplicationFailure.create({ type: FAILURE.chatRoomNotFound, message: `chat room ${id} not found`, nonRetryable: true });
    return row;
  }

  /** Marks the room as going (no more provisioning) and answers its row. */
  const closingRoom = async (id: string) => found(id, await markRoomClosing(ds, id));

  /** Tells the members, once. */
  async function notify(row: RoomRow): Promise<void> {
    if (!row.room_id || row.notice_sent_at || row.status === 'deleted') return;
    await homeserver().sendNotice(row.room_id, `retention-${row.id}`,
      'This event has ended and its chat room is being closed. Thanks for taking part!')
      .catch((err) => { if (!isRejection(err)) throw err; }); // room gone: nobody to tell
    await markNoticeSent(ds, row.id);
  }

  async function removeMembers(row: RoomRow): Promise<number> {
    if (!row.room_id || row.status === 'deleted') return 0;
    const mx = homeserver();
    const bot = await mx.whoami();
    const members = (await mx.members(row.room_id)).filter((m) => m !== bot);
    for (const [i, m] of members.entries()) {
      await mx.kick(row.room_id, m, 'chat room closed');
      if (i % 50 === 49) heartbeat(i + 1);
    }
    return members.length;
  }

  /** Deletes and purges the room on the homeserver; an unknown or already purged room is success. */
  async function purgeChatRoom(chatRoomId: string): Promise<void> {
    const row = found(chatRoomId, await markRoomPurging(ds, chatRoomId));
    if (!row.room_id || row.status === 'deleted') return;
    // Most purges end within a second: heartbeats (a call to Temporal each) begin once one has run PURGE_QUIET_MS.
    const started = Date.now();
    await homeserver().purgeRoom(row.room_id, () => { if (Date.now() - started >= PURGE_QUIET_MS) heartbeat(); });
  }

  return {
    /** Rooms of events that ended before `endedBefore`, in id order after `afterId`. */
    async findExpiredChatRooms(q: { endedBefore: string; afterId: string | null; limit: number }): Promise<ExpiredRoom[]> {
      return (await expiredRooms(ds, q)).map((r) => ({ id: r.id, alias: r.alias, roomId: r.room_id }));
    },

    /**
     * The room closed in one activity: the notice (once, when asked), members removed, deleted
     * and purged on the homeserver, the row marked deleted; answers how many members were removed.
     * Each part is idempotent, so a retry after any of them does only what is left
     * (bench/chat-retention.ts: three activity tasks per room cost a fifth of the run).
     */
    async closeChatRoom(input: { chatRoomId: string; notice: boolean }): Promise<number> {
      const row = await closingRoom(input.chatRoomId);
      if (input.notice) await notify(row);
      const removed = await removeMembers(row);
      await purgeChatRoom(row.id);
      await markRoomDeleted(ds, row.id);
      return removed;
    },

    // The same parts one activity each: what runs recorded before `closeChatRoom` schedule.
    postRetentionNotice: async (chatRoomId: string) => notify(await closingRoom(chatRoomId)),
    removeChatMembers: async (chatRoomId: string) => removeMembers(await closingRoom(chatRoomId)),
    purgeChatRoom,

    /** What runs recorded before `closeChatRoom` marked the row do in a step of their own. */
    async markChatRoomDeleted(chatRoomId: string): Promise<void> {
      await markRoomDeleted(ds, chatRoomId);
    },
  };
}

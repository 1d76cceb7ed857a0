import { activityInfo, ApplicationFailure, CancelledFailure, cancellationSignal, heartbeat } from '@temporalio/activity';
import { isRejection } from '../../matrix/client.ts';
import { FAILURE } from '../../temporal/failures.ts';
import { expiredRooms, markNoticeSent, markRoomClosing, markRoomDeleted, markRoomPurging, type RoomRow } from '../../db/chat-rooms.ts';
import { runBounded } from '../../concurrency.ts';
import { requireHomeserver, type ChatDeps } from './homeserver.ts';

/** Heartbeats of a purge start after this long (the activity's heartbeat timeout: 1 minute). */
const PURGE_QUIET_MS = 5_000;
/** What a closing room's members read (bench/chat-retention.ts sends the same). */
export const CLOSING_NOTICE = 'This event has ended and its chat room is being closed. Thanks for taking part!';
export const KICK_REASON = 'chat room closed';

export interface ExpiredRoom { id: string; alias: string; roomId: string | null }
/** A room that could not be closed for good (its row is gone, or the homeserver refused), and why. */
export interface RoomFailure { alias: string; reason: string }
/** What a batch's heartbeats record: which of its rooms (their places in the batch) are done, and those of them that failed for good. */
interface BatchProgress { closed: number[]; failures: RoomFailure[] }
/** What a batch's attempts recorded before the batch closed rooms side by side: how many from its start are done. */
interface OlderBatchProgress { done: number; failures: RoomFailure[] }

/** A failure a retry would meet again: reported for its room, and the batch goes on. */
const permanent = (err: unknown) => (err instanceof ApplicationFailure && err.nonRetryable) || isRejection(err);

/** Closing rooms: found by retention (or a deletion), told, emptied, purged on the homeserver, marked deleted. */
export function retentionActivities({ ds, matrix }: Pick<ChatDeps, 'ds' | 'matrix'>) {
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
    await homeserver().sendNotice(row.room_id, `retention-${row.id}`, CLOSING_NOTICE)
      .catch((err) => { if (!isRejection(err)) throw err; }); // room gone: nobody to tell
    await markNoticeSent(ds, row.id);
  }

  /** `beat` heartbeats a long step (kicks, a purge): the batch's own progress, or the step's. */
  async function removeMembers(row: RoomRow, beat: (removed: number) => void = heartbeat): Promise<number> {
    if (!row.room_id || row.status === 'deleted') return 0;
    const mx = homeserver();
    const bot = await mx.whoami();
    const members = (await mx.members(row.room_id)).filter((m) => m !== bot);
    for (const [i, m] of members.entries()) {
      await mx.kick(row.room_id, m, KICK_REASON);
      if (i % 50 === 49) beat(i + 1);
    }
    return members.length;
  }

  /** Deletes and purges the room on the homeserver; an unknown or already purged room is success. */
  async function purge(chatRoomId: string, beat: () => void = heartbeat): Promise<void> {
    const row = found(chatRoomId, await markRoomPurging(ds, chatRoomId));
    if (!row.room_id || row.status === 'deleted') return;
    // Most purges end within a second: heartbeats (a call to Temporal each) begin once one has run PURGE_QUIET_MS.
    const started = Date.now();
    await homeserver().purgeRoom(row.room_id, () => { if (Date.now() - started >= PURGE_QUIET_MS) beat(); });
  }

  /** The room closed: the notice (once, when asked), members removed, purged, the row marked deleted last. */
  async function close(chatRoomId: string, notice: boolean, beat?: () => void): Promise<number> {
    const row = await closingRoom(chatRoomId);
    if (notice) await notify(row);
    const removed = await removeMembers(row, beat);
    await purge(row.id, beat);
    await markRoomDeleted(ds, row.id);
    return removed;
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
      return close(input.chatRoomId, input.notice);
    },

    /**
     * Rooms closed, `concurrency` at once (one after the other by default), each as
     * `closeChatRoom` closes one: retention hands a page of rooms to one activity (an activity
     * task per room, or per five, kept the worker and Temporal busy on the cores the homeserver
     * needs, bench/chat-retention.ts). A room that fails for good is reported and the batch goes
     * on; any other failure takes no further room, lets those under way end, and fails the
     * attempt. The retry closes what is left: the heartbeats record which rooms are done (a room
     * closed again is a no-op, so one the last heartbeat missed costs a few calls).
     */
    async closeChatRooms(input: { rooms: { id: string; alias: string }[]; notice: boolean; concurrency?: number }): Promise<{ failures: RoomFailure[] }> {
      const resumed = activityInfo().heartbeatDetails as BatchProgress | OlderBatchProgress | undefined;
      const closed = new Set(resumed && 'done' in resumed ? [...input.rooms.keys()].slice(0, resumed.done) : resumed?.closed);
      const failures = [...(resumed?.failures ?? [])];
      const beat = () => heartbeat({ closed: [...closed], failures: [...failures] } satisfies BatchProgress);
      let failed: { err: unknown } | undefined;
      const left = [...input.rooms.keys()].filter((i) => !closed.has(i));
      await runBounded(left, input.concurrency ?? 1, async (i) => {
        // A cancelled run's batch takes no further room once a heartbeat's answer has told the worker.
        if (failed || cancellationSignal().aborted) return;
        const room = input.rooms[i];
        try {
          await close(room.id, input.notice, beat);
        } catch (err) {
          if (!permanent(err)) return void (failed ??= { err });
          failures.push({ alias: room.alias, reason: (err as Error).message });
        }
        closed.add(i);
        beat();
      });
      if (cancellationSignal().aborted) throw new CancelledFailure('the run was cancelled');
      if (failed) throw failed.err;
      return { failures };
    },

    // The same parts one activity each: what runs recorded before `closeChatRoom` schedule.
    postRetentionNotice: async (chatRoomId: string) => notify(await closingRoom(chatRoomId)),
    removeChatMembers: async (chatRoomId: string) => removeMembers(await closingRoom(chatRoomId)),
    purgeChatRoom: async (chatRoomId: string) => purge(chatRoomId),

    /** What runs recorded before `closeChatRoom` marked the row do in a step of their own. */
    async markChatRoomDeleted(chatRoomId: string): Promise<void> {
      await markRoomDeleted(ds, chatRoomId);
    },
  };
}

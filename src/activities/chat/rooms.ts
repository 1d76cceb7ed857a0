import { activityInfo, heartbeat, log } from '@temporalio/activity';
import type { ChatTarget } from '../../temporal/contracts.ts';
import { activeRoomId, ensureRoomRow, roomOwnerBySlug, setRoomCreated, wantedMembers, type Member } from '../../db/chat-rooms.ts';
import { eventBySlug } from '../../db/events.ts';
import { setMatrixUserId } from '../../db/users.ts';
import { requireHomeserver, type ChatDeps } from './homeserver.ts';

export type EnsureRoomResult = { state: 'ready'; roomId: string } | { state: 'disabled' | 'gone' };

/** A room per chat-enabled event or group, and its membership kept in step with the rows. */
export function roomActivities({ ds, matrix, config, followUps }: ChatDeps) {
  const homeserver = () => requireHomeserver(matrix);

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

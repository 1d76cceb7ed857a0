import { continueAsNew, defineQuery, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { PROGRESS_QUERY, SIGNALS, type ChatTarget, type OperationInput, type SignalArgs } from '../temporal/contracts.ts';
import { signalledRounds } from './rounds.ts';

/** Sent after RSVP, membership or detail changes of the room's event or group. */
export const chatSyncSignal = defineSignal<SignalArgs['chatSync']>(SIGNALS.chatSync);

export interface ChatRoomProgress {
  step: 'waiting' | 'provisioning' | 'syncing members' | 'done';
  roomId: string | null;
  state: 'pending' | 'ready' | 'disabled' | 'gone';
  rounds: number;
  invited: number;
  removed: number;
}
export const chatRoomProgressQuery = defineQuery<ChatRoomProgress>(PROGRESS_QUERY);

export type ChatRoomInput = OperationInput<'chat-room'> & { pending?: boolean; totals?: Pick<ChatRoomProgress, 'rounds' | 'invited' | 'removed'> };

const { ensureChatRoom, syncChatMembers } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/**
 * `chat-room:<event or group slug>`: creates the room once and keeps its membership in step with
 * the rows (confirmed attendees, or group members). Signals are applied in order, one round at a
 * time; each round reconciles against the current rows, so nothing depends on signal payloads.
 */
export async function chatRoomWorkflow(input: ChatRoomInput): Promise<ChatRoomProgress> {
  const progress: ChatRoomProgress = {
    step: 'waiting', roomId: null, state: 'pending', rounds: 0, invited: 0, removed: 0, ...input.totals,
  };
  setHandler(chatRoomProgressQuery, () => progress);
  const target: ChatTarget = { kind: input.kind, slug: input.slug };

  await signalledRounds({
    signal: chatSyncSignal,
    idleTimeout: input.idleTimeout ?? '1 day',
    pendingAtStart: input.pending,
    round: async () => {
      progress.step = 'provisioning';
      const room = await ensureChatRoom(target);
      progress.state = room.state;
      if (room.state !== 'ready') return 'stop';
      progress.roomId = room.roomId;
      progress.step = 'syncing members';
      const { invited, removed } = await syncChatMembers(target);
      progress.rounds++;
      progress.invited += invited;
      progress.removed += removed;
      progress.step = 'waiting';
      return 'continue';
    },
    continueAsNew: (pending) => continueAsNew<typeof chatRoomWorkflow>({
      ...target, idleTimeout: input.idleTimeout, pending,
      totals: { rounds: progress.rounds, invited: progress.invited, removed: progress.removed },
    }),
  });
  progress.step = 'done';
  return progress;
}

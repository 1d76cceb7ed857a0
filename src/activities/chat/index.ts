import type { ChatDeps } from './homeserver.ts';
import { retentionActivities } from './retention.ts';
import { roomActivities } from './rooms.ts';

export type { EnsureRoomResult } from './rooms.ts';
export type { ExpiredRoom, RoomFailure } from './retention.ts';

export function chatActivities(deps: ChatDeps) {
  return { ...roomActivities(deps), ...retentionActivities(deps) };
}

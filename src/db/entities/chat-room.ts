import { EntitySchema } from 'typeorm';

/** One Matrix room per event or group (exactly one of eventId / groupId is set). */
export interface ChatRoom {
  id: string;
  eventId: string | null;
  groupId: string | null;
  alias: string;
  roomId: string | null;
  status: 'provisioning' | 'active' | 'deleting' | 'purging' | 'deleted';
  noticeSentAt: Date | null;
  deletedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export const ChatRoomEntity = new EntitySchema<ChatRoom>({
  name: 'ChatRoom',
  tableName: 'chat_rooms',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid' },
    eventId: { type: 'uuid', name: 'event_id', nullable: true },
    groupId: { type: 'uuid', name: 'group_id', nullable: true },
    alias: { type: 'text', unique: true },
    roomId: { type: 'text', name: 'room_id', nullable: true },
    status: { type: 'text', default: 'provisioning' },
    noticeSentAt: { type: 'timestamptz', name: 'notice_sent_at', nullable: true },
    deletedAt: { type: 'timestamptz', name: 'deleted_at', nullable: true },
    createdAt: { type: 'timestamptz', name: 'created_at', createDate: true },
    updatedAt: { type: 'timestamptz', name: 'updated_at', updateDate: true },
  },
});

import { EntitySchema } from 'typeorm';

export interface Group {
  id: string;
  slug: string;
  name: string;
  description: string | null;
  ownerId: string;
  chatEnabled: boolean;
  /** Open: anyone joins. Approval: a request waits for an admin. */
  joining: 'open' | 'approval';
  status: 'active' | 'deleting';
  createdAt: Date;
  updatedAt: Date;
}

export interface GroupMember {
  groupId: string;
  userId: string;
  role: 'owner' | 'admin' | 'member';
  createdAt: Date;
}

export const GroupEntity = new EntitySchema<Group>({
  name: 'Group',
  tableName: 'groups',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid' },
    slug: { type: 'text', unique: true },
    name: { type: 'text' },
    description: { type: 'text', nullable: true },
    ownerId: { type: 'uuid', name: 'owner_id' },
    chatEnabled: { type: 'boolean', name: 'chat_enabled', default: false },
    joining: { type: 'text', default: 'open' },
    status: { type: 'text', default: 'active' },
    createdAt: { type: 'timestamptz', name: 'created_at', createDate: true },
    updatedAt: { type: 'timestamptz', name: 'updated_at', updateDate: true },
  },
});

export const GroupMemberEntity = new EntitySchema<GroupMember>({
  name: 'GroupMember',
  tableName: 'group_members',
  columns: {
    groupId: { type: 'uuid', name: 'group_id', primary: true },
    userId: { type: 'uuid', name: 'user_id', primary: true },
    role: { type: 'text', default: 'member' },
    createdAt: { type: 'timestamptz', name: 'created_at', createDate: true },
  },
});

import { EntitySchema } from 'typeorm';

export interface User {
  id: string;
  slug: string;
  email: string | null;
  displayName: string;
  handle: string | null;
  did: string | null;
  pdsUrl: string | null;
  matrixUserId: string | null;
  /** From the Bluesky profile, refreshed at login. */
  avatarUrl: string | null;
  provider: 'local' | 'bluesky';
  isShadowAccount: boolean;
  /** A shadow account whose claim is running: the claimant (one at a time). */
  claimedBy: string | null;
  blueskyConnected: boolean;
  blueskyAutoPublish: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export const UserEntity = new EntitySchema<User>({
  name: 'User',
  tableName: 'users',
  columns: {
    id: { type: 'uuid', primary: true, generated: 'uuid' },
    slug: { type: 'text', unique: true },
    email: { type: 'text', nullable: true, unique: true },
    displayName: { type: 'text', name: 'display_name' },
    handle: { type: 'text', nullable: true },
    did: { type: 'text', nullable: true, unique: true },
    pdsUrl: { type: 'text', name: 'pds_url', nullable: true },
    matrixUserId: { type: 'text', name: 'matrix_user_id', nullable: true, unique: true },
    avatarUrl: { type: 'text', name: 'avatar_url', nullable: true },
    provider: { type: 'text', default: 'local' },
    isShadowAccount: { type: 'boolean', name: 'is_shadow_account', default: false },
    claimedBy: { type: 'uuid', name: 'claimed_by', nullable: true },
    blueskyConnected: { type: 'boolean', name: 'bluesky_connected', default: false },
    blueskyAutoPublish: { type: 'boolean', name: 'bluesky_auto_publish', default: true },
    createdAt: { type: 'timestamptz', name: 'created_at', createDate: true },
    updatedAt: { type: 'timestamptz', name: 'updated_at', updateDate: true },
  },
});

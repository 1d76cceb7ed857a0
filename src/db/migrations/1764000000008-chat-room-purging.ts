import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A chat room being purged on the homeserver is `purging`, apart from `deleting` (members being
 * removed): a deletion undone before the purge reopens its room, one undone during it cannot.
 */
export class ChatRoomPurging1764000000008 implements MigrationInterface {
  name = 'ChatRoomPurging1764000000008';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE chat_rooms DROP CONSTRAINT chat_rooms_status_check,
      ADD CONSTRAINT chat_rooms_status_check CHECK (status IN ('provisioning', 'active', 'deleting', 'purging', 'deleted'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE chat_rooms SET status = 'deleting' WHERE status = 'purging'`);
    await q.query(`ALTER TABLE chat_rooms DROP CONSTRAINT chat_rooms_status_check,
      ADD CONSTRAINT chat_rooms_status_check CHECK (status IN ('provisioning', 'active', 'deleting', 'deleted'))`);
  }
}

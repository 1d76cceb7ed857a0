import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A user's avatar: the URL of the blob their Bluesky profile names, refreshed at login. */
export class UserAvatar1764000000010 implements MigrationInterface {
  name = 'UserAvatar1764000000010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users ADD COLUMN avatar_url text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users DROP COLUMN avatar_url`);
  }
}

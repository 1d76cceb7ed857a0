import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The Matrix account meetflow provisions for a user the first time a room needs them. */
export class MatrixUserId1764000000001 implements MigrationInterface {
  name = 'MatrixUserId1764000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users ADD COLUMN matrix_user_id text UNIQUE`);
    await q.query(`CREATE INDEX chat_rooms_status_idx ON chat_rooms (status) WHERE status <> 'deleted'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX chat_rooms_status_idx`);
    await q.query(`ALTER TABLE users DROP COLUMN matrix_user_id`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Group membership through the API: a group is open (anyone joins) or asks for approval (a request
 * waits in `group_join_requests` until an admin approves or declines it). Members are paged in
 * (role, since, user) order.
 */
export class GroupMembership1764000000006 implements MigrationInterface {
  name = 'GroupMembership1764000000006';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE groups ADD COLUMN joining text NOT NULL DEFAULT 'open' CHECK (joining IN ('open', 'approval'))`);
    await q.query(`
      CREATE TABLE group_join_requests (
        group_id   uuid NOT NULL REFERENCES groups(id),
        user_id    uuid NOT NULL REFERENCES users(id),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (group_id, user_id)
      )`);
    await q.query(`CREATE INDEX group_join_requests_user_idx ON group_join_requests (user_id)`);
    await q.query(`CREATE INDEX group_members_page_idx ON group_members (group_id, created_at, user_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX group_members_page_idx`);
    await q.query(`DROP TABLE group_join_requests`);
    await q.query(`ALTER TABLE groups DROP COLUMN joining`);
  }
}

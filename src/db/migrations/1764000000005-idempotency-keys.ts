import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `Idempotency-Key` answers live in Postgres, written in the same transaction as the change they
 * answer for: a retry after any failure finds the committed answer, and a concurrent duplicate
 * meets the primary key (never a second row). Follow-ups gain `detail` (a group's room, the user
 * of an RSVP record), so every follow-up of every change goes through the outbox.
 */
export class IdempotencyKeys1764000000005 implements MigrationInterface {
  name = 'IdempotencyKeys1764000000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE idempotency_keys (
        scope        text NOT NULL,
        key          text NOT NULL,
        request_hash text NOT NULL,
        status       int NOT NULL,
        body         jsonb NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, key)
      )`);
    await q.query(`CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at)`);
    await q.query(`ALTER TABLE follow_ups ADD COLUMN detail jsonb NOT NULL DEFAULT '{}'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE follow_ups DROP COLUMN detail`);
    await q.query(`DROP TABLE idempotency_keys`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The transactional outbox: a change records the workflow wake-ups it sets in motion in the same
 * transaction; a relay delivers them to Temporal at least once (leased, with backoff) and deletes
 * each once delivered. A row still here is a follow-up not yet delivered.
 */
export class FollowUps1764000000004 implements MigrationInterface {
  name = 'FollowUps1764000000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE follow_ups (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        type            text NOT NULL,
        slug            text NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        attempts        int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error      text
      )`);
    await q.query(`CREATE INDEX follow_ups_due_idx ON follow_ups (next_attempt_at, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE follow_ups`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What each step of an account claim changed, written in the same transaction as the change:
 * compensation replays it backwards to put both accounts back exactly; a finished claim deletes it.
 * `users.claimed_by` marks a shadow account whose claim is running (one claimant at a time).
 */
export class AccountClaimJournal1764000000003 implements MigrationInterface {
  name = 'AccountClaimJournal1764000000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE account_claim_journal (
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        did        text NOT NULL,
        kind       text NOT NULL,
        before     jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX account_claim_journal_did_idx ON account_claim_journal (did, id)`);
    await q.query(`ALTER TABLE users ADD COLUMN claimed_by uuid REFERENCES users(id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users DROP COLUMN claimed_by`);
    await q.query(`DROP TABLE account_claim_journal`);
  }
}

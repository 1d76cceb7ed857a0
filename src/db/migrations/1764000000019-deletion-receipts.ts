import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a lone event's one-step deletion reported, kept in the transaction that deleted it, by the
 * workflow run: a worker that dies after the commit and before its step's result reaches Temporal
 * left the retry finding no event and reporting nothing deleted. Kept a day (the API's hourly purge).
 */
export class DeletionReceipts1764000000019 implements MigrationInterface {
  name = 'DeletionReceipts1764000000019';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE deletion_receipts (
        run_id     text PRIMARY KEY,
        report     jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE deletion_receipts`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Records from the firehose are applied in batches (`bsky-ingest-lane:<n>`); a record whose change
 * must wait (an RSVP before its event, an event's deletion) goes to its own `bsky-ingest:<uri>`
 * workflow instead, and from then on every change of that record follows it there, in order.
 */
export class IngestForwarded1764000000012 implements MigrationInterface {
  name = 'IngestForwarded1764000000012';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE ingest_forwarded (uri text PRIMARY KEY, forwarded_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE INDEX ingest_forwarded_at_idx ON ingest_forwarded (forwarded_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ingest_forwarded`);
  }
}

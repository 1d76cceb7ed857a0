import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The author of each record forwarded to its own workflow, so that how many of an author's records
 * wait there can be counted (an RSVP parked for its event waits up to an hour): an author's RSVPs
 * to events that never come would otherwise each hold a workflow for that hour, without bound.
 * Rows forwarded before have no author and count for nobody (they are pruned within a week).
 * An RSVP beyond that bound is dead-lettered once (a retried batch finds it there: by its URI).
 */
export class ForwardedAuthor1764000000022 implements MigrationInterface {
  name = 'ForwardedAuthor1764000000022';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ingest_forwarded ADD COLUMN did text`);
    await q.query(`CREATE INDEX IF NOT EXISTS ingest_forwarded_did_at_idx ON ingest_forwarded (did, forwarded_at)`);
    await q.query(`CREATE INDEX IF NOT EXISTS ingestion_dead_letters_uri_idx ON ingestion_dead_letters (uri)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX ingestion_dead_letters_uri_idx`);
    await q.query(`DROP INDEX ingest_forwarded_did_at_idx`);
    await q.query(`ALTER TABLE ingest_forwarded DROP COLUMN did`);
  }
}

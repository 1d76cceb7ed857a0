import type { MigrationInterface, QueryRunner } from 'typeorm';

/** What an event's status was before a deletion tombstoned it, so compensation restores it exactly. */
export class DeletionTombstone1764000000002 implements MigrationInterface {
  name = 'DeletionTombstone1764000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE events ADD COLUMN status_before_delete text`);
    await q.query(`CREATE INDEX events_series_idx ON events (series_slug, start_at) WHERE series_slug IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX events_series_idx`);
    await q.query(`ALTER TABLE events DROP COLUMN status_before_delete`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An index on each foreign key's column that had none: deleting (or merging away) the row it
 * refers to makes Postgres look for referring rows, and without one it reads the whole table. One
 * event's deletion read all of `series_exceptions` (the ON DELETE SET NULL) and `event_series`
 * (the template check at commit, and `releaseTemplate`): 138 ms and 36 ms with 1M exceptions and
 * 200k series (EXPLAIN ANALYZE; each under 1 ms with these). A group's deletion reads
 * `event_series` by group, and merging a claimed shadow account `event_series`, `groups` and
 * `users` by owner or claimant. Columns that are mostly empty get partial indexes.
 */
export class ForeignKeyIndexes1764000000015 implements MigrationInterface {
  name = 'ForeignKeyIndexes1764000000015';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of INDEXES) await q.query(`CREATE INDEX IF NOT EXISTS ${sql}`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of INDEXES) await q.query(`DROP INDEX ${sql.split(' ')[0]}`);
  }
}

const INDEXES = [
  'series_exceptions_event_idx ON series_exceptions (event_id) WHERE event_id IS NOT NULL',
  'event_series_template_idx ON event_series (template_event_id) WHERE template_event_id IS NOT NULL',
  'event_series_group_idx ON event_series (group_id) WHERE group_id IS NOT NULL',
  'event_series_owner_idx ON event_series (owner_id)',
  'groups_owner_idx ON groups (owner_id)',
  'users_claimed_by_idx ON users (claimed_by) WHERE claimed_by IS NOT NULL',
];

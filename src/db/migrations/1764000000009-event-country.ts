import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An event's country (ISO 3166-1 alpha-2), beside its free-text `location`: the lexicon's address
 * location needs one, so an in-person event can publish its place.
 */
export class EventCountry1764000000009 implements MigrationInterface {
  name = 'EventCountry1764000000009';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE events ADD COLUMN country text CHECK (country ~ '^[A-Z]{2}$')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE events DROP COLUMN country`);
  }
}

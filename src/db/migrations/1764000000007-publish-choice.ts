import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An event's `publish_to_bluesky` becomes a choice of three: true (publish, whatever the owner's
 * preference), false (never: the event opts out) or null (follow the owner's auto-publish
 * preference). Until now false meant "follow the preference", so those rows become null.
 */
export class PublishChoice1764000000007 implements MigrationInterface {
  name = 'PublishChoice1764000000007';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE events ALTER COLUMN publish_to_bluesky DROP NOT NULL, ALTER COLUMN publish_to_bluesky DROP DEFAULT`);
    await q.query(`UPDATE events SET publish_to_bluesky = NULL WHERE NOT publish_to_bluesky`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE events SET publish_to_bluesky = false WHERE publish_to_bluesky IS NOT TRUE`);
    await q.query(`ALTER TABLE events ALTER COLUMN publish_to_bluesky SET DEFAULT false, ALTER COLUMN publish_to_bluesky SET NOT NULL`);
  }
}

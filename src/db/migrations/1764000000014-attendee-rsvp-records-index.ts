import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An event's attendees with an RSVP record on the network, found without reading the others: a
 * deletion asks whether there are any before it deletes a lone event in one step, and lists them
 * to delete the records. Few attendees have one, so the index stays small.
 */
export class AttendeeRsvpRecordsIndex1764000000014 implements MigrationInterface {
  name = 'AttendeeRsvpRecordsIndex1764000000014';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS attendees_rsvp_records_idx ON attendees (event_id) WHERE bluesky_uri IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX attendees_rsvp_records_idx`);
  }
}

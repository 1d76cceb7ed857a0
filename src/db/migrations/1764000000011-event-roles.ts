import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Registrations with roles: an event may declare roles ("volunteers", capacity 10), each with its
 * own capacity and waitlist; a registration (attendee row) belongs to one of them and carries the
 * person's notes and special requirements. An event without roles keeps one capacity, as before.
 */
export class EventRoles1764000000011 implements MigrationInterface {
  name = 'EventRoles1764000000011';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE event_roles (
        event_id uuid NOT NULL REFERENCES events(id),
        name     text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
        capacity int CHECK (capacity >= 0),
        position int NOT NULL,
        PRIMARY KEY (event_id, name)
      )`);
    await q.query(`
      ALTER TABLE attendees ADD COLUMN registration_role text, ADD COLUMN notes text, ADD COLUMN special_requirements text,
        ADD CONSTRAINT attendees_registration_role_fk FOREIGN KEY (event_id, registration_role) REFERENCES event_roles (event_id, name) ON UPDATE CASCADE`);
    await q.query(`CREATE INDEX attendees_role_waitlist_idx ON attendees (event_id, registration_role, waitlisted_at, id) WHERE status = 'waitlisted'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX attendees_role_waitlist_idx`);
    await q.query(`ALTER TABLE attendees DROP CONSTRAINT attendees_registration_role_fk,
      DROP COLUMN registration_role, DROP COLUMN notes, DROP COLUMN special_requirements`);
    await q.query(`DROP TABLE event_roles`);
  }
}

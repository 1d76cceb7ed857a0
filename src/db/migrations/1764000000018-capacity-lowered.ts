import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Lowering an event's capacity never un-confirms anyone, so an event may hold more confirmed people
 * than its capacity without anything having gone wrong. `confirmed_when_lowered` remembers how many
 * were confirmed when a change of capacity left more than it allows (null otherwise); the seat
 * decision confirms nobody while they are at or above the capacity, so their number never grows
 * past it, and `ops invariants` reports only events above both. A trigger on the capacity keeps it,
 * whichever statement changes it (a PATCH, the series materializer), under the event row's lock
 * that every seat decision takes too. Events already above their capacity take their count today.
 */
export class CapacityLowered1764000000018 implements MigrationInterface {
  name = 'CapacityLowered1764000000018';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE events ADD COLUMN confirmed_when_lowered int`);
    await q.query(`
      CREATE FUNCTION meetflow_capacity_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE confirmed int;
      BEGIN
        SELECT coalesce(sum(n), 0) INTO confirmed FROM attendee_tallies WHERE event_id = NEW.id AND status = 'confirmed';
        NEW.confirmed_when_lowered := CASE WHEN confirmed > NEW.capacity THEN confirmed END;
        RETURN NEW;
      END $$`);
    await q.query(`CREATE TRIGGER events_capacity_changed BEFORE UPDATE OF capacity ON events
      FOR EACH ROW WHEN (NEW.capacity IS DISTINCT FROM OLD.capacity) EXECUTE FUNCTION meetflow_capacity_changed()`);
    await q.query(`
      UPDATE events e SET confirmed_when_lowered = t.n
        FROM (SELECT event_id, sum(n)::int AS n FROM attendee_tallies WHERE status = 'confirmed' GROUP BY 1) t
       WHERE t.event_id = e.id AND t.n > e.capacity`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER events_capacity_changed ON events`);
    await q.query(`DROP FUNCTION meetflow_capacity_changed()`);
    await q.query(`ALTER TABLE events DROP COLUMN confirmed_when_lowered`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';
import { RsvpFunction1764000000013 } from './1764000000013-rsvp-function.ts';

/** `meetflow_rsvp` as this migration leaves it (migration 1764000000020 changes its write). */
export const RSVP_FUNCTION = `
      CREATE OR REPLACE FUNCTION meetflow_rsvp(p_slug text, p_user uuid, p_intent text, p_role text,
                                    p_notes text, p_notes_given boolean, p_special text, p_special_given boolean,
                                    p_quiet boolean, p_chat_on boolean)
      RETURNS jsonb LANGUAGE plpgsql AS $$
      DECLARE
        ev record; reg record; had boolean; bucket text; cap int; prev text; nxt text;
        moved boolean; changed boolean; new_notes text; new_special text; pos int;
      BEGIN
        -- Every change of confirmed seats for an event takes this lock first.
        SELECT id, capacity, status, chat_enabled INTO ev FROM events WHERE slug = p_slug FOR UPDATE;
        IF NOT FOUND THEN RETURN jsonb_build_object('error', 'not_found'); END IF;
        IF ev.status = 'deleting' THEN RETURN jsonb_build_object('error', 'event_deleting'); END IF;
        IF p_intent <> 'notgoing' AND ev.status <> 'published' THEN
          RETURN jsonb_build_object('error', 'event_not_open', 'status', ev.status);
        END IF;
        SELECT status, registration_role, notes, special_requirements INTO reg
          FROM attendees WHERE event_id = ev.id AND user_id = p_user;
        had := FOUND;

        -- The seat bucket: the asked role, else the one held, else the first; no roles: the event.
        IF NOT EXISTS (SELECT 1 FROM event_roles WHERE event_id = ev.id) THEN
          IF p_role IS NOT NULL THEN RETURN jsonb_build_object('error', 'unknown_role', 'role', p_role); END IF;
          bucket := NULL; cap := ev.capacity;
        ELSE
          bucket := coalesce(p_role, CASE WHEN had THEN reg.registration_role END,
                             (SELECT name FROM event_roles WHERE event_id = ev.id ORDER BY position LIMIT 1));
          SELECT capacity INTO cap FROM event_roles WHERE event_id = ev.id AND name = bucket;
          IF NOT FOUND THEN
            RETURN jsonb_build_object('error', 'unknown_role', 'role', bucket,
              'roles', (SELECT jsonb_agg(name ORDER BY position) FROM event_roles WHERE event_id = ev.id));
          END IF;
        END IF;
        moved := had AND bucket IS DISTINCT FROM reg.registration_role;
        prev := CASE WHEN had THEN reg.status END;

        -- going confirms while confirmed + waiting (others) is below capacity; people already
        -- waiting keep their place; repeating an RSVP changes nothing.
        IF p_intent = 'interested' THEN nxt := 'maybe';
        ELSIF p_intent = 'notgoing' THEN nxt := 'cancelled';
        ELSIF NOT moved AND prev IN ('confirmed', 'waitlisted') THEN nxt := prev;
        -- Here the person holds no seat in this bucket, so its tally is the others'.
        ELSIF cap IS NULL OR (SELECT coalesce(sum(n), 0) FROM attendee_tallies WHERE event_id = ev.id AND role = coalesce(bucket, '')
                               AND status IN ('confirmed', 'waitlisted')) < cap THEN nxt := 'confirmed';
        ELSE nxt := 'waitlisted';
        END IF;

        changed := nxt IS DISTINCT FROM prev OR moved;
        IF p_quiet AND (coalesce(prev = 'confirmed' AND (nxt <> 'confirmed' OR moved), false)
                        OR (changed AND ev.chat_enabled AND p_chat_on)) THEN
          RETURN jsonb_build_object('error', 'not_quiet');
        END IF;
        new_notes := CASE WHEN p_notes_given THEN p_notes WHEN had THEN reg.notes END;
        new_special := CASE WHEN p_special_given THEN p_special WHEN had THEN reg.special_requirements END;
        IF changed OR new_notes IS DISTINCT FROM (CASE WHEN had THEN reg.notes END)
                   OR new_special IS DISTINCT FROM (CASE WHEN had THEN reg.special_requirements END) THEN
          -- Arrival order on the waitlist: clock_timestamp(), the moment the lock was taken, not
          -- the transaction's start; an unchanged registration keeps its place.
          INSERT INTO attendees (event_id, user_id, status, waitlisted_at, registration_role, notes, special_requirements)
          VALUES (ev.id, p_user, nxt, CASE WHEN nxt = 'waitlisted' THEN clock_timestamp() END, bucket, new_notes, new_special)
          ON CONFLICT (event_id, user_id) DO UPDATE
            SET status = EXCLUDED.status, registration_role = EXCLUDED.registration_role, notes = EXCLUDED.notes,
                special_requirements = EXCLUDED.special_requirements, updated_at = now(),
                waitlisted_at = CASE WHEN changed THEN EXCLUDED.waitlisted_at ELSE attendees.waitlisted_at END;
        END IF;
        IF nxt = 'waitlisted' AND changed THEN
          -- Just joined (the lock's clock_timestamp() is the latest): the back of the queue.
          SELECT n INTO pos FROM attendee_tallies WHERE event_id = ev.id AND role = coalesce(bucket, '') AND status = 'waitlisted';
        ELSIF nxt = 'waitlisted' THEN
          -- The person's own row read once (MATERIALIZED): with a fresh event's statistics the
          -- planner otherwise re-read it for every waiting row, under the lock (bench: 15 ms at 320).
          WITH me AS MATERIALIZED (SELECT registration_role, waitlisted_at, id FROM attendees WHERE event_id = ev.id AND user_id = p_user)
          SELECT count(*) + 1 INTO pos FROM attendees w, me
           WHERE w.event_id = ev.id AND w.status = 'waitlisted'
             AND w.registration_role IS NOT DISTINCT FROM me.registration_role
             AND (w.waitlisted_at, w.id) < (me.waitlisted_at, me.id);
        END IF;
        RETURN jsonb_build_object('status', nxt, 'role', bucket, 'changed', changed, 'chatEnabled', ev.chat_enabled,
          'seatFreed', coalesce(prev = 'confirmed' AND (nxt <> 'confirmed' OR moved), false), 'waitlistPosition', pos);
      END $$`;

/**
 * How many registrations each event holds per role and status (`attendee_tallies`, role '' when
 * the event declares none), kept by statement triggers on `attendees` for every insert and update,
 * of one row or of 100k. The seat decision under an event's lock reads its tally instead of
 * counting the held seats (bench/rsvp-throughput.ts: one event with 20,000 registrations took 70
 * RSVPs a second, each counting them), and a GET reads its counts the same way. Deletes have no
 * trigger: a whole event's attendees would be copied into a transition table first (100k rows by
 * hand: 104 -> 130 ms, more in the bench); its tallies go with it instead (`dropTallies`, the event is
 * tombstoned and read by nobody), and the one other delete, a claim's merge, takes its row off
 * (`untally`). `ops invariants` checks that tallies and rows agree. Rows are summed per statement
 * and written in key order, so two statements never lock two tallies in opposite orders.
 */
export class AttendeeTallies1764000000016 implements MigrationInterface {
  name = 'AttendeeTallies1764000000016';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE attendee_tallies (
        event_id uuid NOT NULL REFERENCES events(id) ON DELETE CASCADE,
        role     text NOT NULL,
        status   text NOT NULL,
        n        int  NOT NULL,
        PRIMARY KEY (event_id, role, status)
      )`);
    await q.query(`
      CREATE FUNCTION meetflow_tally_attendees() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- Each branch names only the transition tables its trigger has (PL/pgSQL plans a statement when it first runs).
        IF TG_OP = 'INSERT' THEN
          INSERT INTO attendee_tallies AS t (event_id, role, status, n)
            SELECT event_id, coalesce(registration_role, ''), status, count(*) FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
          ON CONFLICT (event_id, role, status) DO UPDATE SET n = t.n + EXCLUDED.n;
        ELSE
          INSERT INTO attendee_tallies AS t (event_id, role, status, n)
            SELECT event_id, role, status, sum(d) FROM (
              SELECT event_id, coalesce(registration_role, '') AS role, status, 1 AS d FROM new_rows
              UNION ALL SELECT event_id, coalesce(registration_role, ''), status, -1 FROM old_rows) moved
             GROUP BY 1, 2, 3 HAVING sum(d) <> 0 ORDER BY 1, 2, 3
          ON CONFLICT (event_id, role, status) DO UPDATE SET n = t.n + EXCLUDED.n;
        END IF;
        RETURN NULL;
      END $$`);
    // The triggers first: they lock out writers until this commits, so the count below stays true.
    await q.query(`CREATE TRIGGER attendees_tally_insert AFTER INSERT ON attendees
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION meetflow_tally_attendees()`);
    await q.query(`CREATE TRIGGER attendees_tally_update AFTER UPDATE ON attendees
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION meetflow_tally_attendees()`);
    await q.query(`
      INSERT INTO attendee_tallies (event_id, role, status, n)
      SELECT event_id, coalesce(registration_role, ''), status, count(*) FROM attendees GROUP BY 1, 2, 3`);
    await q.query(RSVP_FUNCTION);
  }

  async down(q: QueryRunner): Promise<void> {
    // The function as migration 1764000000013 made it, which counts the rows.
    await new RsvpFunction1764000000013().down(q);
    await new RsvpFunction1764000000013().up(q);
    for (const op of ['insert', 'update']) await q.query(`DROP TRIGGER attendees_tally_${op} ON attendees`);
    await q.query(`DROP FUNCTION meetflow_tally_attendees()`);
    await q.query(`DROP TABLE attendee_tallies`);
  }
}

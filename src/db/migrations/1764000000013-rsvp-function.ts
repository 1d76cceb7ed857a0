import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One person's RSVP decided and written inside Postgres (`meetflow_rsvp`), so the event's row lock
 * is held for the seat decision only, not across the round trips of a decision made in the API
 * (bench/rsvp-throughput.ts: one event at concurrency 16 waited on that lock). The rules are those
 * of src/domain/rsvp.ts, which calls it; refusals come back as `{"error": code, ...}` before any
 * write. `p_quiet`: called on its own (no transaction around it, the lock held only inside it), it
 * writes only an outcome that sets nothing in motion (no seat freed; no change reaching a chat room
 * while chat is on, `p_chat_on`: `quietOutcome` in src/follow-ups/rules.ts), else answers
 * `not_quiet` and writes nothing (the caller then records it in a transaction with its follow-ups).
 */
export class RsvpFunction1764000000013 implements MigrationInterface {
  name = 'RsvpFunction1764000000013';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION meetflow_rsvp(p_slug text, p_user uuid, p_intent text, p_role text,
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
        ELSIF cap IS NULL OR (SELECT count(*) FROM attendees WHERE event_id = ev.id AND registration_role IS NOT DISTINCT FROM bucket
                               AND status IN ('confirmed', 'waitlisted') AND user_id <> p_user) < cap THEN nxt := 'confirmed';
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
        IF nxt = 'waitlisted' THEN
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
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION meetflow_rsvp(text, uuid, text, text, text, boolean, text, boolean, boolean, boolean)`);
  }
}

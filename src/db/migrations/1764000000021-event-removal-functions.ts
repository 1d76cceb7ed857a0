import type { MigrationInterface, QueryRunner } from 'typeorm';

/** All of an event's attendees, its tallies first (nothing reads a deleted event's); answers how many. */
const REMOVE_ATTENDEES = `
  CREATE OR REPLACE FUNCTION meetflow_remove_attendees(p_event uuid) RETURNS integer LANGUAGE plpgsql AS $$
  DECLARE
    n integer;
  BEGIN
    DELETE FROM attendee_tallies WHERE event_id = p_event;
    DELETE FROM attendees WHERE event_id = p_event;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
  END $$`;

/**
 * The event's rows, last: its attendees too with `p_attendees` (answers how many), else it refuses
 * while any are left (the batches before it are retried); its place as a series template, its room
 * row, its roles, the event (exceptions let go by their FK).
 */
const REMOVE_EVENT = `
  CREATE OR REPLACE FUNCTION meetflow_remove_event(p_event uuid, p_attendees boolean) RETURNS integer LANGUAGE plpgsql AS $$
  DECLARE
    n integer := 0;
  BEGIN
    IF p_attendees THEN
      n := meetflow_remove_attendees(p_event);
    ELSE
      SELECT count(*) INTO n FROM attendees WHERE event_id = p_event;
      IF n > 0 THEN RAISE EXCEPTION 'event % still has % attendees', p_event, n; END IF;
    END IF;
    UPDATE event_series SET template_event_id = NULL WHERE template_event_id = p_event AND status = 'deleting';
    DELETE FROM chat_rooms WHERE event_id = p_event;
    DELETE FROM event_roles WHERE event_id = p_event;
    DELETE FROM events WHERE id = p_event;
    RETURN n;
  END $$`;

/**
 * A lone event (no record, no live chat room, no RSVP records; in a series only when the series
 * goes too) deleted with its attendees, its report kept under the run's id (`deletion_receipts`).
 * Null when it is not one, or gone. Its row lock keeps RSVPs and a new chat room out meanwhile. The
 * attendees are not counted first (a scan of them all: a fifth of a 100k deletion): more than
 * `p_max_attendees` deleted raises SQLSTATE MF001, and the statement's work is undone.
 */
const DELETE_LONE_EVENT = `
  CREATE OR REPLACE FUNCTION meetflow_delete_lone_event(p_slug text, p_in_series_deletion boolean, p_max_attendees integer, p_run_id text)
  RETURNS jsonb LANGUAGE plpgsql AS $$
  DECLARE
    ev record;
    n integer;
    report jsonb;
  BEGIN
    SELECT id, series_slug, original_start INTO ev FROM events
     WHERE slug = p_slug AND bluesky_uri IS NULL AND (p_in_series_deletion OR series_slug IS NULL OR original_start IS NULL)
     FOR UPDATE;
    IF NOT FOUND THEN RETURN NULL; END IF;
    IF EXISTS (SELECT 1 FROM chat_rooms WHERE event_id = ev.id AND status <> 'deleted')
       OR EXISTS (SELECT 1 FROM attendees WHERE event_id = ev.id AND bluesky_uri IS NOT NULL) THEN
      RETURN NULL;
    END IF;
    n := meetflow_remove_event(ev.id, true);
    IF n > p_max_attendees THEN
      RAISE EXCEPTION 'event % has % attendees, more than % in one step', p_slug, n, p_max_attendees USING ERRCODE = 'MF001';
    END IF;
    report := jsonb_build_object(
      'eventId', ev.id, 'slug', p_slug, 'seriesSlug', ev.series_slug,
      'originalStart', to_char(ev.original_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'attendees', n, 'chatRoom', NULL, 'blueskyUri', NULL, 'rsvpRecords', 0, 'deleted', true);
    INSERT INTO deletion_receipts (run_id, report) VALUES (p_run_id, report);
    RETURN report;
  END $$`;

/**
 * An event's removal as functions, one statement each instead of a transaction of up to twelve
 * round trips (BEGIN, lock, two checks, tallies, attendees, template, room, roles, event, receipt,
 * COMMIT). The statements are the ones that transaction ran, in the same order. A lone event's
 * deletion through the API (bench/event-deletion.ts, three runs alternating with the transaction):
 * 1k attendees 32.0-35.2 ms against 33.7-41.1, 10k 28.6-31.5 against 33.5-36.8, 100k 59.8-62.2
 * against 62.9-67.5 (1.7-1.8x one SQL transaction, against 1.8-2.0x).
 */
export class EventRemovalFunctions1764000000021 implements MigrationInterface {
  name = 'EventRemovalFunctions1764000000021';

  async up(q: QueryRunner): Promise<void> {
    for (const fn of [REMOVE_ATTENDEES, REMOVE_EVENT, DELETE_LONE_EVENT]) await q.query(fn);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION meetflow_delete_lone_event(text, boolean, integer, text)`);
    await q.query(`DROP FUNCTION meetflow_remove_event(uuid, boolean)`);
    await q.query(`DROP FUNCTION meetflow_remove_attendees(uuid)`);
  }
}

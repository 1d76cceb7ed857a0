import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The whole data model. Every foreign key and unique constraint is declared here, and the
 * migration runs in one transaction: if any statement fails, nothing is applied and the
 * migrate command exits non-zero (the system this replaces lost `events.series_slug` because
 * its FK migration failed silently).
 */
export class InitialSchema1764000000000 implements MigrationInterface {
  name = 'InitialSchema1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE users (
        id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        slug              text NOT NULL UNIQUE,
        email             text UNIQUE,
        display_name      text NOT NULL,
        handle            text,
        did               text UNIQUE,
        pds_url           text,
        provider          text NOT NULL DEFAULT 'local' CHECK (provider IN ('local', 'bluesky')),
        is_shadow_account boolean NOT NULL DEFAULT false,
        bluesky_connected boolean NOT NULL DEFAULT false,
        bluesky_auto_publish boolean NOT NULL DEFAULT true,
        created_at        timestamptz NOT NULL DEFAULT now(),
        updated_at        timestamptz NOT NULL DEFAULT now(),
        CHECK (NOT is_shadow_account OR (did IS NOT NULL AND email IS NULL))
      )`);

    await q.query(`
      CREATE TABLE groups (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        slug         text NOT NULL UNIQUE,
        name         text NOT NULL,
        description  text,
        owner_id     uuid NOT NULL REFERENCES users(id),
        chat_enabled boolean NOT NULL DEFAULT false,
        status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleting')),
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE group_members (
        group_id   uuid NOT NULL REFERENCES groups(id),
        user_id    uuid NOT NULL REFERENCES users(id),
        role       text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (group_id, user_id)
      )`);
    await q.query(`CREATE INDEX group_members_user_idx ON group_members (user_id)`);

    // event_series and events reference each other (series link / template event); the
    // template FK is added after both tables exist and is deferrable so one transaction can
    // create a series and its template occurrence.
    await q.query(`
      CREATE TABLE event_series (
        id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        slug               text NOT NULL UNIQUE,
        name               text NOT NULL,
        description        text,
        rrule              text NOT NULL,
        dtstart            timestamptz NOT NULL,
        duration_minutes   integer NOT NULL CHECK (duration_minutes > 0),
        time_zone          text NOT NULL,
        template_event_id  uuid,
        owner_id           uuid NOT NULL REFERENCES users(id),
        group_id           uuid REFERENCES groups(id),
        status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleting')),
        materialized_until timestamptz,
        created_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE events (
        id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        slug               text NOT NULL UNIQUE,
        name               text NOT NULL,
        description        text,
        start_at           timestamptz NOT NULL,
        end_at             timestamptz NOT NULL,
        time_zone          text NOT NULL,
        status             text NOT NULL DEFAULT 'published'
                           CHECK (status IN ('draft', 'published', 'cancelled', 'deleting')),
        visibility         text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'private')),
        owner_id           uuid NOT NULL REFERENCES users(id),
        group_id           uuid REFERENCES groups(id),
        series_slug        text REFERENCES event_series(slug) ON UPDATE CASCADE,
        original_start     timestamptz,
        capacity           integer CHECK (capacity IS NULL OR capacity >= 0),
        chat_enabled       boolean NOT NULL DEFAULT false,
        location           text,
        online_url         text,
        publish_to_bluesky boolean NOT NULL DEFAULT false,
        source_type        text,
        source_id          text,
        source_url         text,
        source_cid         text,
        source_rkey        text,
        source_did         text,
        bluesky_uri        text UNIQUE,
        bluesky_cid        text,
        bluesky_rkey       text,
        bluesky_published_at timestamptz,
        created_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now(),
        CHECK (end_at >= start_at),
        CHECK ((series_slug IS NULL) = (original_start IS NULL)),
        CHECK ((source_type IS NULL) = (source_id IS NULL)),
        UNIQUE (series_slug, original_start),
        UNIQUE (source_type, source_id)
      )`);
    await q.query(`CREATE INDEX events_owner_idx ON events (owner_id)`);
    await q.query(`CREATE INDEX events_group_idx ON events (group_id)`);
    await q.query(`CREATE INDEX events_start_idx ON events (start_at)`);
    await q.query(`CREATE INDEX events_source_url_idx ON events (source_url) WHERE source_url IS NOT NULL`);
    await q.query(`CREATE INDEX events_source_rkey_idx ON events (source_did, source_rkey) WHERE source_rkey IS NOT NULL`);

    await q.query(`
      ALTER TABLE event_series ADD CONSTRAINT event_series_template_event_fk
        FOREIGN KEY (template_event_id) REFERENCES events(id) DEFERRABLE INITIALLY DEFERRED`);

    await q.query(`
      CREATE TABLE series_exceptions (
        id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        series_slug    text NOT NULL REFERENCES event_series(slug) ON UPDATE CASCADE,
        original_start timestamptz NOT NULL,
        kind           text NOT NULL CHECK (kind IN ('modified', 'cancelled', 'deleted')),
        event_id       uuid REFERENCES events(id) ON DELETE SET NULL,
        overrides      jsonb NOT NULL DEFAULT '{}',
        created_at     timestamptz NOT NULL DEFAULT now(),
        updated_at     timestamptz NOT NULL DEFAULT now(),
        UNIQUE (series_slug, original_start)
      )`);

    await q.query(`
      CREATE TABLE attendees (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id      uuid NOT NULL REFERENCES events(id),
        user_id       uuid NOT NULL REFERENCES users(id),
        status        text NOT NULL CHECK (status IN ('confirmed', 'waitlisted', 'maybe', 'cancelled')),
        role          text NOT NULL DEFAULT 'participant' CHECK (role IN ('host', 'participant')),
        waitlisted_at timestamptz,
        source_id     text UNIQUE,
        source_cid    text,
        bluesky_uri   text UNIQUE,
        bluesky_cid   text,
        bluesky_rkey  text,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        UNIQUE (event_id, user_id),
        CHECK ((status = 'waitlisted') = (waitlisted_at IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX attendees_event_status_idx ON attendees (event_id, status)`);
    await q.query(`CREATE INDEX attendees_waitlist_idx ON attendees (event_id, waitlisted_at, id) WHERE status = 'waitlisted'`);
    await q.query(`CREATE INDEX attendees_user_idx ON attendees (user_id)`);

    await q.query(`
      CREATE TABLE chat_rooms (
        id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        event_id       uuid UNIQUE REFERENCES events(id),
        group_id       uuid UNIQUE REFERENCES groups(id),
        alias          text NOT NULL UNIQUE,
        room_id        text UNIQUE,
        status         text NOT NULL DEFAULT 'provisioning'
                       CHECK (status IN ('provisioning', 'active', 'deleting', 'deleted')),
        notice_sent_at timestamptz,
        deleted_at     timestamptz,
        created_at     timestamptz NOT NULL DEFAULT now(),
        updated_at     timestamptz NOT NULL DEFAULT now(),
        CHECK ((event_id IS NULL) <> (group_id IS NULL))
      )`);

    await q.query(`
      CREATE TABLE firehose_cursors (
        service    text PRIMARY KEY,
        cursor     bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE ingestion_dead_letters (
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        source     text NOT NULL,
        uri        text,
        cid        text,
        collection text,
        reason     text NOT NULL,
        payload    jsonb,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE event_series DROP CONSTRAINT event_series_template_event_fk`);
    for (const table of ['ingestion_dead_letters', 'firehose_cursors', 'chat_rooms', 'attendees',
      'series_exceptions', 'events', 'event_series', 'group_members', 'groups', 'users']) {
      await q.query(`DROP TABLE ${table}`);
    }
  }
}

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource, type DataSourceOptions, type EntityManager, type QueryRunner } from 'typeorm';
import { loadConfig } from '../../src/config.ts';
import { createDataSource } from '../../src/db/data-source.ts';
import { findViolations } from '../../src/db/invariants.ts';
import { OccurrenceRolesExceptions1764000000017 } from '../../src/db/migrations/1764000000017-occurrence-roles-exceptions.ts';
import { untally } from '../../src/db/attendee-tallies.ts';
import { deleteAttendeeBatch } from '../../src/db/attendees.ts';
import { eventBySlug } from '../../src/db/events.ts';
import { markRoomClosing, markRoomDeleted, markRoomPurging } from '../../src/db/chat-rooms.ts';
import { EventEntity } from '../../src/db/entities/event.ts';
import { UserEntity } from '../../src/db/entities/user.ts';
import { userById } from '../../src/db/users.ts';

let ds: DataSource;
beforeAll(async () => { ds = await createDataSource(loadConfig()).initialize(); });
afterAll(async () => { await ds?.destroy(); });

/** Runs `fn` in a transaction that is rolled back: the test leaves nothing behind (its rows may break invariants on purpose). */
async function rolledBack(fn: (m: EntityManager) => Promise<void>): Promise<void> {
  const runner = ds.createQueryRunner();
  await runner.startTransaction();
  try {
    await fn(runner.manager);
  } finally {
    await runner.rollbackTransaction();
    await runner.release();
  }
}

async function foreignKeys(): Promise<string[]> {
  const rows = await ds.query(`
    SELECT tc.table_name || '.' || kcu.column_name || ' -> ' || ccu.table_name || '.' || ccu.column_name AS fk
      FROM information_schema.table_constraints tc
      JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name
      JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name
     WHERE tc.constraint_type = 'FOREIGN KEY'`);
  return rows.map((r: { fk: string }) => r.fk);
}

describe('migrations', () => {
  it('are all applied, and a second run has nothing to do', async () => {
    expect(await ds.showMigrations()).toBe(false);
    expect(await ds.runMigrations()).toEqual([]);
  });

  it('declare the foreign keys the workflows rely on', async () => {
    expect(await foreignKeys()).toEqual(expect.arrayContaining([
      'events.series_slug -> event_series.slug',
      'event_series.template_event_id -> events.id',
      'events.owner_id -> users.id',
      'events.group_id -> groups.id',
      'attendees.event_id -> events.id',
      'attendees.user_id -> users.id',
      'series_exceptions.series_slug -> event_series.slug',
      'chat_rooms.event_id -> events.id',
      'group_members.user_id -> users.id',
    ]));
  });

  it('index the first column of every foreign key (deleting the row it refers to reads the referring rows by index, not the whole table)', async () => {
    // An index counts if that column leads it and it is whole, or partial on that column being set
    // (all a key lookup reads). A composite key (attendees' role) is read through its event's rows.
    const unindexed = await ds.query(`
      SELECT c.conrelid::regclass || '.' || a.attname AS fk
        FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
       WHERE c.contype = 'f' AND NOT EXISTS (
         SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1]
            AND (i.indpred IS NULL OR pg_get_expr(i.indpred, i.indrelid) = '(' || a.attname || ' IS NOT NULL)'))`);
    expect(unindexed).toEqual([]);
  });

  it('enforce the unique keys dedup and materialization depend on', async () => {
    const [user] = await ds.query(`INSERT INTO users (slug, display_name, did, is_shadow_account) VALUES ('shadow-' || gen_random_uuid(), 's', 'did:plc:' || gen_random_uuid(), true) RETURNING id, did`);
    await expect(ds.query(`INSERT INTO users (slug, display_name, did) VALUES ('dup-' || gen_random_uuid(), 'd', $1)`, [user.did]))
      .rejects.toThrow(/users_did_key/);

    const [series] = await ds.query(`INSERT INTO event_series (slug, name, rrule, dtstart, duration_minutes, time_zone, owner_id)
      VALUES ('s-' || gen_random_uuid(), 'S', 'FREQ=WEEKLY', now(), 60, 'UTC', $1) RETURNING slug`, [user.id]);
    const occurrence = (slug: string) => ds.query(`INSERT INTO events (slug, name, start_at, end_at, time_zone, owner_id, series_slug, original_start)
      VALUES ($1, 'o', '2027-01-01T10:00Z', '2027-01-01T11:00Z', 'UTC', $2, $3, '2027-01-01T10:00Z')`, [slug, user.id, series.slug]);
    await occurrence(`o1-${series.slug}`);
    await ds.query(`UPDATE event_series SET template_event_id = (SELECT id FROM events WHERE slug = $1) WHERE slug = $2`, [`o1-${series.slug}`, series.slug]);
    await expect(occurrence(`o2-${series.slug}`)).rejects.toThrow(/events_series_slug_original_start_key/);

    const ingested = (slug: string) => ds.query(`INSERT INTO events (slug, name, start_at, end_at, time_zone, owner_id, source_type, source_id)
      VALUES ($1, 'i', now(), now(), 'UTC', $2, 'bluesky', 'at://did:plc:x/community.lexicon.calendar.event/' || $3)`, [slug, user.id, series.slug]);
    await ingested(`i1-${series.slug}`);
    await expect(ingested(`i2-${series.slug}`)).rejects.toThrow(/events_source_type_source_id_key/);
  });

  it('refuse an event linked to a series that does not exist, and an attendee twice', async () => {
    const [user] = await ds.query(`INSERT INTO users (slug, display_name) VALUES ('u-' || gen_random_uuid(), 'u') RETURNING id`);
    await expect(ds.query(`INSERT INTO events (slug, name, start_at, end_at, time_zone, owner_id, series_slug, original_start)
      VALUES ('orphan-' || gen_random_uuid(), 'o', now(), now(), 'UTC', $1, 'no-such-series', now())`, [user.id]))
      .rejects.toThrow(/events_series_slug_fkey/);
    const [event] = await ds.query(`INSERT INTO events (slug, name, start_at, end_at, time_zone, owner_id)
      VALUES ('e-' || gen_random_uuid(), 'e', now(), now(), 'UTC', $1) RETURNING id`, [user.id]);
    await ds.query(`INSERT INTO attendees (event_id, user_id, status) VALUES ($1, $2, 'confirmed')`, [event.id, user.id]);
    await expect(ds.query(`INSERT INTO attendees (event_id, user_id, status) VALUES ($1, $2, 'maybe')`, [event.id, user.id]))
      .rejects.toThrow(/attendees_event_id_user_id_key/);
    await expect(ds.query(`INSERT INTO attendees (event_id, user_id, status) VALUES ($1, $2, 'waitlisted')`, [event.id, user.id]))
      .rejects.toThrow();
  });

  it('migration 17 makes an exception of each occurrence whose own roles differ from its template\'s, and of no other', async () => {
    await rolledBack(async (m) => {
      const [u] = await m.query(`INSERT INTO users (slug, display_name) VALUES ('roles-' || gen_random_uuid(), 'u') RETURNING id`);
      const [s] = await m.query(`INSERT INTO event_series (slug, name, rrule, dtstart, duration_minutes, time_zone, owner_id)
        VALUES ('roles-' || gen_random_uuid(), 'S', 'FREQ=WEEKLY', '2027-01-01T10:00Z', 60, 'UTC', $1) RETURNING slug`, [u.id]);
      const events: { id: string; original_start: Date }[] = await m.query(
        `INSERT INTO events (slug, name, start_at, end_at, time_zone, owner_id, series_slug, original_start)
         SELECT $2 || '-' || w, 'o', t, t + interval '1 hour', 'UTC', $1, $2, t
           FROM generate_series(0, 3) w, LATERAL (SELECT '2027-01-01T10:00Z'::timestamptz + w * interval '7 days' AS t) x
         RETURNING id, original_start`, [u.id, s.slug]);
      const [template, same, own, none] = events;
      await m.query(`UPDATE event_series SET template_event_id = $1 WHERE slug = $2`, [template.id, s.slug]);
      const roles = (id: string, declared: [string, number][]) => m.query(
        `INSERT INTO event_roles (event_id, name, capacity, position) SELECT $1, r.n, r.c, r.p FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS r(n, c, p)`,
        [id, declared.map((r) => r[0]), declared.map((r) => r[1])]);
      await roles(template.id, [['crew', 2]]);
      await roles(same.id, [['crew', 2]]);
      await roles(own.id, [['crew', 2], ['guests', 10]]);
      void none; // no roles: it takes the template's from now on

      await new OccurrenceRolesExceptions1764000000017().up(m.queryRunner!);
      expect(await m.query(`SELECT event_id, kind, overrides FROM series_exceptions WHERE series_slug = $1`, [s.slug])).toEqual([
        { event_id: own.id, kind: 'modified', overrides: { roles: [{ name: 'crew', capacity: 2 }, { name: 'guests', capacity: 10 }] } },
      ]);
    });
  });

  it('the invariant check finds a series without its template and an ingested event published back (the checks can fail)', async () => {
    await rolledBack(async (m) => {
      const [u] = await m.query(`INSERT INTO users (slug, display_name) VALUES ('inv-' || gen_random_uuid(), 'u') RETURNING id`);
      const [s] = await m.query(`INSERT INTO event_series (slug, name, rrule, dtstart, duration_minutes, time_zone, owner_id)
        VALUES ('inv-' || gen_random_uuid(), 'S', 'FREQ=DAILY', now(), 60, 'UTC', $1) RETURNING slug`, [u.id]);
      expect((await findViolations(m))['series without its template event']).toEqual([s.slug]);
      const [e] = await m.query(`INSERT INTO events (slug, name, start_at, end_at, time_zone, owner_id, source_type, source_id, bluesky_uri)
        VALUES ('inv-' || gen_random_uuid(), 'E', now(), now(), 'UTC', $1, 'bluesky', 'at://did:plc:x/c/' || gen_random_uuid(), 'at://did:plc:y/c/' || gen_random_uuid())
        RETURNING slug`, [u.id]);
      expect((await findViolations(m))['ingested event published back (loop)']).toEqual([e.slug]);
    });
  });

  it('the capacity check allows those a lowered capacity left confirmed, and finds one more confirmed beyond them, or beyond a capacity never lowered', async () => {
    await rolledBack(async (m) => {
      const q = (sql: string, params?: unknown[]) => m.query(sql, params);
      const users: { id: string }[] = await q(`INSERT INTO users (slug, display_name) SELECT 'cap-' || gen_random_uuid(), 'u' FROM generate_series(1, 4) RETURNING id`);
      const event = async (capacity: number) => (await q(`INSERT INTO events (slug, name, start_at, end_at, time_zone, owner_id, status, capacity)
        VALUES ('cap-' || gen_random_uuid(), 'C', now() + interval '1 day', now() + interval '2 days', 'UTC', $1, 'published', $2) RETURNING id, slug`,
      [users[0].id, capacity]))[0] as { id: string; slug: string };
      const confirm = (e: { id: string }, from: number, to: number) =>
        q(`INSERT INTO attendees (event_id, user_id, status) SELECT $1, id, 'confirmed' FROM unnest($2::uuid[]) id`, [e.id, users.slice(from, to).map((u) => u.id)]);
      const overCapacity = async () => ((await findViolations(m))['more confirmed attendees than capacity'] ?? [])
        .filter((slug) => slug.startsWith('cap-')); // other test files' events share the database

      const lowered = await event(3);
      await confirm(lowered, 0, 3);
      await q(`UPDATE events SET capacity = 1 WHERE id = $1`, [lowered.id]);
      const never = await event(1);
      await confirm(never, 0, 2); // written past the seat decision
      expect(await overCapacity()).toEqual([never.slug]);
      await confirm(lowered, 3, 4);
      expect((await overCapacity()).sort()).toEqual([lowered.slug, never.slug].sort());
      // Raised to hold them all, the allowance goes: the capacity alone counts again.
      await q(`UPDATE events SET capacity = 4 WHERE id = $1`, [lowered.id]);
      expect(await q(`SELECT confirmed_when_lowered FROM events WHERE id = $1`, [lowered.id])).toEqual([{ confirmed_when_lowered: null }]);
      expect(await overCapacity()).toEqual([never.slug]);
    });
  });

  it('keep attendee tallies equal to the rows through every kind of write (those of an event being deleted go with its rows), and the invariant check finds a drifted one', async () => {
    await rolledBack(async (m) => {
      const q = (sql: string, params?: unknown[]) => m.query(sql, params);
      const users: { id: string }[] = await q(`INSERT INTO users (slug, display_name) SELECT 'tally-' || gen_random_uuid(), 'u' FROM generate_series(1, 6) RETURNING id`);
      const [e] = await q(`INSERT INTO events (slug, name, start_at, end_at, time_zone, owner_id, status, capacity)
        VALUES ('tally-' || gen_random_uuid(), 'T', now() + interval '1 day', now() + interval '2 days', 'UTC', $1, 'published', 2) RETURNING id, slug`, [users[0].id]);
      const tallies = async () => Object.fromEntries((await q(`SELECT role || '/' || status AS k, n FROM attendee_tallies WHERE event_id = $1 AND n <> 0`, [e.id]))
        .map((r: { k: string; n: number }) => [r.k, r.n]));
      const rsvp = (user: string, intent: string, role: string | null = null) =>
        q(`SELECT meetflow_rsvp($1, $2, $3, $4, NULL, false, NULL, false, false, false) AS r`, [e.slug, user, intent, role]);
      // Many rows in one statement, then one at a time through the seat decision (inserts and upserts).
      await q(`INSERT INTO attendees (event_id, user_id, status) VALUES ($1, $2, 'confirmed'), ($1, $3, 'maybe')`, [e.id, users[0].id, users[1].id]);
      await rsvp(users[1].id, 'going'); // maybe -> confirmed: the last seat
      const [{ r: waiting }] = await rsvp(users[2].id, 'going');
      expect(waiting).toMatchObject({ status: 'waitlisted', waitlistPosition: 1 });
      await rsvp(users[3].id, 'going');
      expect(await tallies()).toEqual({ '/confirmed': 2, '/waitlisted': 2 });
      await rsvp(users[0].id, 'notgoing');
      await q(`UPDATE attendees SET status = 'confirmed', waitlisted_at = NULL WHERE event_id = $1 AND user_id = $2`, [e.id, users[2].id]);
      expect(await tallies()).toEqual({ '/confirmed': 2, '/waitlisted': 1, '/cancelled': 1 });
      // Roles come: everyone joins the first (one UPDATE of many rows), then a batch is deleted.
      await q(`INSERT INTO event_roles (event_id, name, capacity, position) VALUES ($1, 'crew', 5, 0)`, [e.id]);
      await q(`UPDATE attendees SET registration_role = 'crew' WHERE event_id = $1`, [e.id]);
      expect(await tallies()).toEqual({ 'crew/confirmed': 2, 'crew/waitlisted': 1, 'crew/cancelled': 1 });
      // A claim's merge deletes one row and takes it off; a deletion drops the tombstoned event's tallies with its rows.
      const [gone] = await q(`DELETE FROM attendees WHERE event_id = $1 AND status = 'waitlisted' RETURNING event_id, registration_role, status`, [e.id]);
      await untally(m, gone); // TypeORM answers a DELETE … RETURNING with [rows, count]
      expect(await tallies()).toEqual({ 'crew/confirmed': 2, 'crew/cancelled': 1 });
      const drift = 'attendee tally that disagrees with the rows (migration 1764000000016 keeps them equal)';
      expect((await findViolations(m))[drift]).toBeUndefined();
      await q(`UPDATE attendee_tallies SET n = n + 1 WHERE event_id = $1`, [e.id]);
      expect((await findViolations(m))[drift]).toEqual([e.slug]);

      await q(`UPDATE events SET status = 'deleting' WHERE id = $1`, [e.id]);
      expect(await deleteAttendeeBatch(m, e.id, 2)).toBe(2);
      expect(await tallies()).toEqual({});
      expect((await findViolations(m))[drift]).toBeUndefined();
    });
  });

  it('a chat room only moves on: each mark answers the row as it is now, and one further on is left as it is', async () => {
    await rolledBack(async (m) => {
      const [u] = await m.query(`INSERT INTO users (slug, display_name) VALUES ('room-' || gen_random_uuid(), 'u') RETURNING id`);
      const [e] = await m.query(`INSERT INTO events (slug, name, start_at, end_at, time_zone, owner_id)
        VALUES ('room-' || gen_random_uuid(), 'E', now(), now(), 'UTC', $1) RETURNING id`, [u.id]);
      const [room] = await m.query(`INSERT INTO chat_rooms (event_id, alias, room_id, status) VALUES ($1, 'room-' || gen_random_uuid(), '!r:x', 'active') RETURNING id, alias`, [e.id]);
      expect(await markRoomClosing(m, room.id)).toEqual({ id: room.id, alias: room.alias, room_id: '!r:x', status: 'deleting', notice_sent_at: null });
      expect(await markRoomPurging(m, room.id)).toMatchObject({ id: room.id, status: 'purging' });
      expect(await markRoomClosing(m, room.id)).toMatchObject({ id: room.id, status: 'purging' });
      await markRoomDeleted(m, room.id);
      expect(await markRoomPurging(m, room.id)).toMatchObject({ id: room.id, status: 'deleted' });
      expect(await markRoomClosing(m, '00000000-0000-4000-8000-000000000000')).toBeUndefined();
    });
  });

  it('a migration that cannot apply its constraints fails loudly and applies nothing', async () => {
    // A fresh database, the real migration, then one whose FK cannot be created.
    const dbName = `probe_${Date.now()}`;
    await ds.query(`CREATE DATABASE ${dbName}`);
    class BrokenFk1764000000001 {
      name = 'BrokenFk1764000000001';
      async up(q: QueryRunner) { await q.query(`ALTER TABLE events ADD CONSTRAINT bad_fk FOREIGN KEY (capacity) REFERENCES users(slug)`); }
      async down() {}
    }
    const base = createDataSource({ ...loadConfig(), DATABASE_URL: loadConfig().DATABASE_URL.replace(/\/[^/]+$/, `/${dbName}`) });
    const probe = new DataSource({ ...base.options, migrations: [...(base.options.migrations as never[]), BrokenFk1764000000001] } as DataSourceOptions);
    await probe.initialize();
    try {
      await expect(probe.runMigrations()).rejects.toThrow(/foreign key/i);
      expect(await probe.query(`SELECT to_regclass('users') AS t`)).toEqual([{ t: null }]);
    } finally {
      await probe.destroy();
      await ds.query(`DROP DATABASE ${dbName}`);
    }
  });
});

describe('reads', () => {
  it('a user read by id is the entity TypeORM builds, column for column', async () => {
    await rolledBack(async (m) => {
      // Every column set (text, boolean, timestamptz, uuid), so each type's reading is compared.
      const [claimant] = await m.query(`INSERT INTO users (slug, display_name) VALUES ('c-' || gen_random_uuid(), 'c') RETURNING id`);
      const [{ id }] = await m.query(`
        INSERT INTO users (slug, email, display_name, handle, did, pds_url, matrix_user_id, avatar_url, provider,
                           is_shadow_account, claimed_by, bluesky_connected, bluesky_auto_publish)
        VALUES ('u-' || gen_random_uuid(), gen_random_uuid() || '@x.example', 'U', 'u.test', 'did:plc:' || gen_random_uuid(), 'https://pds.example',
                '@u-' || gen_random_uuid() || ':x.example', 'https://a.example/u.png', 'bluesky', false, $1, true, false)
        RETURNING id`, [claimant.id]);
      const read = await userById(m, id);
      expect(read).toEqual(await m.getRepository(UserEntity).findOneBy({ id }));
      expect(Object.values(read!).filter((v) => v === null)).toHaveLength(0);
      expect(await userById(m, randomUUID())).toBeNull();
    });
  });

  it('an event read by its slug is the entity TypeORM builds, column for column', async () => {
    await rolledBack(async (m) => {
      const [owner] = await m.query(`INSERT INTO users (slug, display_name) VALUES ('o-' || gen_random_uuid(), 'o') RETURNING id`);
      const [group] = await m.query(`INSERT INTO groups (slug, name, owner_id) VALUES ('g-' || gen_random_uuid(), 'G', $1) RETURNING id`, [owner.id]);
      // Every column that may be set is (text, integer, boolean, timestamptz, uuid), so each type's reading is compared.
      const [{ slug }] = await m.query(`
        INSERT INTO events (slug, name, description, start_at, end_at, time_zone, status, visibility, owner_id, group_id,
                            capacity, chat_enabled, location, online_url, country, publish_to_bluesky, source_type, source_id, source_url,
                            source_cid, source_rkey, source_did, bluesky_uri, bluesky_cid, bluesky_rkey, bluesky_published_at)
        VALUES ('e-' || gen_random_uuid(), 'E', 'd', '2030-01-01T10:00:00.123Z', '2030-01-01T12:00:00Z', 'Europe/Berlin', 'draft', 'private', $1, $2,
                7, true, 'here', 'https://x.example', 'DE', false, 'bluesky', 'src-' || gen_random_uuid(), 'https://s.example',
                'cid', 'rkey', 'did:plc:x', 'at://did:plc:x/community.lexicon.calendar.event/' || gen_random_uuid(), 'bcid', 'brkey', now())
        RETURNING slug`, [owner.id, group.id]);
      const read = await eventBySlug(m, slug);
      expect(read).toEqual(await m.getRepository(EventEntity).findOneBy({ slug }));
      expect(Object.values(read!).filter((v) => v === null)).toHaveLength(2); // the series' two: they would need a series of its own
      expect(await eventBySlug(m, 'no-such-event')).toBeNull();
    });
  });
});

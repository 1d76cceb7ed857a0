import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { DataSource, EntityManager } from 'typeorm';
import { EventEntity, type Event } from '../db/entities/event.ts';
import { DomainError, notFound } from '../domain/errors.ts';
import { attendeeCounts, eventRoles, roleCounts, type AttendeeCounts } from '../domain/rsvp.ts';
import { makeSlug } from '../domain/slug.ts';
import { datetime, followUpOperations, link, name, patchOf, slug, SlugParam, text, timeZone } from './fields.ts';
import { recordFollowUps } from '../follow-ups/outbox.ts';
import { afterEventChanged, afterEventCreated, publishNow } from '../follow-ups/rules.ts';
import { groupForNewItem, isManager, requireManager, requireUser } from './access.ts';
import type { Auth, AuthEnv } from './auth.ts';
import type { RouteDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { commitCreated } from './created.ts';
import { idempotent } from './idempotency.ts';
import { OperationSchema, operationReader } from './operations.ts';
import { changedRows } from '../db/changed-rows.ts';

const Counts = z.object({ confirmed: z.number(), waitlisted: z.number(), maybe: z.number() });
export const EventSchema = z.object({
  slug: z.string(), name: z.string(), description: z.string().nullable(),
  startAt: z.string(), endAt: z.string(), timeZone: z.string(),
  status: z.enum(['draft', 'published', 'cancelled']), ownerId: z.string().uuid(),
  groupSlug: z.string().nullable(), seriesSlug: z.string().nullable(),
  capacity: z.number().nullable(), chatEnabled: z.boolean(),
  publishToBluesky: z.boolean().nullable().openapi({ description: 'true: publish; false: never (this event opts out); null: as the owner\'s auto-publish preference says' }),
  location: z.string().nullable(), country: z.string().nullable(), onlineUrl: z.string().nullable(),
  attendeeCounts: Counts,
  roles: z.array(z.object({ name: z.string(), capacity: z.number().nullable(), attendeeCounts: Counts }))
    .openapi({ description: 'the roles the event declares (capacity and waitlist per role), with their counts; empty: one capacity for the event' }),
  bluesky: z.object({ uri: z.string(), cid: z.string().nullable() }).nullable(),
  operations: followUpOperations.optional(),
}).openapi('Event');

export const editable = {
  name: name(200),
  description: text(50_000).nullable(),
  startAt: datetime, endAt: datetime, timeZone,
  capacity: z.number().int().min(0).max(1_000_000).nullable(),
  chatEnabled: z.boolean(), publishToBluesky: z.boolean().nullable(),
  location: name(500).nullable(), onlineUrl: link.nullable(),
  country: z.string().regex(/^[A-Z]{2}$/).nullable()
    .openapi({ description: 'ISO 3166-1 alpha-2 country of the location: with it an in-person event publishes its place on Bluesky', example: 'DE' }),
  status: z.enum(['draft', 'published', 'cancelled']),
};
const CreateEvent = z.object({
  ...editable,
  description: editable.description.optional(), capacity: editable.capacity.optional(),
  chatEnabled: editable.chatEnabled.default(false), publishToBluesky: editable.publishToBluesky.default(null),
  location: editable.location.optional(), onlineUrl: editable.onlineUrl.optional(), country: editable.country.optional(),
  status: z.enum(['draft', 'published']).default('published'),
  groupSlug: slug.optional(),
}).strict().refine((e) => Date.parse(e.endAt) >= Date.parse(e.startAt), { message: 'endAt must not be before startAt', path: ['endAt'] });
const PatchEvent = patchOf(editable);

const COLUMNS: Record<keyof typeof editable, string> = {
  name: 'name', description: 'description', startAt: 'start_at', endAt: 'end_at', timeZone: 'time_zone',
  capacity: 'capacity', chatEnabled: 'chat_enabled', publishToBluesky: 'publish_to_bluesky',
  location: 'location', onlineUrl: 'online_url', country: 'country', status: 'status',
};

/**
 * API field names to `events` columns, for targeted updates. Instants become Dates: Postgres
 * refuses some offsets RFC 3339 allows (e.g. +19:26), JavaScript reads them all.
 */
export function eventColumns(fields: Partial<Record<keyof typeof editable, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) =>
    [COLUMNS[k as keyof typeof editable], (k === 'startAt' || k === 'endAt') && typeof v === 'string' ? new Date(v) : v]));
}

/**
 * `col = $2, other = $3` for the given columns (undefined ones left out), to follow `$1`: only
 * what changes is written, never a save of a stale whole entity.
 */
export function setClause(columns: Record<string, unknown>): { sql: string; values: unknown[] } {
  const entries = Object.entries(columns).filter(([, v]) => v !== undefined);
  return { sql: entries.map(([k], i) => `${k} = $${i + 2}`).join(', '), values: entries.map(([, v]) => v) };
}

/** A live event (not tombstoned): deleting events have disappeared from reads. */
export async function findLiveEvent(ds: DataSource, slug: string): Promise<Event> {
  const event = await ds.getRepository(EventEntity).findOneBy({ slug });
  if (!event || event.status === 'deleting') throw notFound('event', slug);
  return event;
}

/** A live event the caller may see: a draft only for its managers (for anyone else it does not exist). */
export async function findVisibleEvent(ds: DataSource, slug: string, auth: Auth): Promise<Event> {
  const event = await findLiveEvent(ds, slug);
  await hideDraft(ds, slug, auth, event);
  return event;
}

/** `not_found` when the event is a draft the caller does not manage; anything else passes. */
export async function hideDraft(ds: DataSource, slug: string, auth: Auth, known?: Pick<Event, 'status' | 'ownerId' | 'groupId'>): Promise<void> {
  const event = known ?? await ds.getRepository(EventEntity).findOne({ where: { slug }, select: { status: true, ownerId: true, groupId: true } });
  if (event?.status === 'draft' && !await isManager(ds, auth, event)) throw notFound('event', slug);
}

export async function toEventJsons(ds: DataSource | EntityManager, events: Event[]) {
  const counts = await attendeeCounts(ds, events.map((e) => e.id));
  const roles = await roleCounts(ds, events.map((e) => e.id));
  const groupIds = [...new Set(events.map((e) => e.groupId).filter((g): g is string => !!g))];
  const groups = groupIds.length
    ? new Map((await ds.query(`SELECT id, slug FROM groups WHERE id = ANY($1::uuid[])`, [groupIds]))
      .map((g: { id: string; slug: string }) => [g.id, g.slug]))
    : new Map();
  return events.map((e) => ({
    slug: e.slug, name: e.name, description: e.description,
    startAt: e.startAt.toISOString(), endAt: e.endAt.toISOString(), timeZone: e.timeZone,
    status: e.status as 'draft' | 'published' | 'cancelled', ownerId: e.ownerId,
    groupSlug: e.groupId ? groups.get(e.groupId) ?? null : null, seriesSlug: e.seriesSlug,
    capacity: e.capacity, chatEnabled: e.chatEnabled, publishToBluesky: e.publishToBluesky,
    location: e.location, country: e.country, onlineUrl: e.onlineUrl,
    attendeeCounts: counts.get(e.id) as AttendeeCounts,
    roles: roles.get(e.id) ?? [],
    bluesky: e.blueskyUri ? { uri: e.blueskyUri, cid: e.blueskyCid } : null,
  }));
}

export function eventsRoutes(deps: RouteDeps) {
  /**
   * A change to a series occurrence: the template's fields flow to every unmodified occurrence
   * (re-materialize; answers true); any other occurrence becomes a `modified` exception, so
   * re-materialization never overwrites it.
   */
  async function recordSeriesChange(m: EntityManager, event: Event, patch: Record<string, unknown>): Promise<boolean> {
    const [series] = await m.query(`SELECT template_event_id FROM event_series WHERE slug = $1`, [event.seriesSlug]);
    if (series?.template_event_id === event.id) return true;
    await m.query(
      `INSERT INTO series_exceptions (series_slug, original_start, kind, event_id, overrides) VALUES ($1, $2, 'modified', $3, $4)
       ON CONFLICT (series_slug, original_start) DO UPDATE
         SET overrides = series_exceptions.overrides || EXCLUDED.overrides, event_id = EXCLUDED.event_id, updated_at = now()`,
      [event.seriesSlug, event.originalStart, event.id, JSON.stringify(patch)]);
    return false;
  }

  const { ds, config, followUps } = deps;
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  const events = ds.getRepository(EventEntity);
  const Slug = SlugParam;
  const one = { content: { 'application/json': { schema: EventSchema } } };

  app.openapi(createRoute({
    method: 'post', path: '/v1/events', tags: ['events'], security: [{ bearer: [] }],
    middleware: [idempotent(ds)] as const,
    request: { body: { required: true, content: { 'application/json': { schema: CreateEvent } } } },
    responses: { 201: { ...one, description: 'created' }, ...errorResponses },
  }), async (c) => {
    const body = c.req.valid('json');
    const owner = await requireUser(ds, c.get('auth'));
    const groupId = await groupForNewItem(ds, owner, body.groupSlug);
    // The event, its follow-ups and the kept answer commit together; delivery comes after.
    const { recorded, answer } = await ds.transaction(async (m) => {
      const repo = m.getRepository(EventEntity);
      const event = await repo.save(repo.create({
        slug: makeSlug(body.name), name: body.name, description: body.description ?? null,
        startAt: new Date(body.startAt), endAt: new Date(body.endAt), timeZone: body.timeZone,
        status: body.status, ownerId: owner.id, groupId, capacity: body.capacity ?? null,
        chatEnabled: body.chatEnabled, publishToBluesky: body.publishToBluesky,
        location: body.location ?? null, onlineUrl: body.onlineUrl ?? null, country: body.country ?? null,
      }));
      const [json] = await toEventJsons(m, [event]);
      return commitCreated(c, m, json, await afterEventCreated(m, config, event));
    });
    return c.json({ ...answer, operations: await followUps.deliver(recorded) }, 201);
  });

  const ListQuery = z.object({
    from: datetime.optional(), to: datetime.optional(), groupSlug: slug.optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  });
  const list = { 200: { content: { 'application/json': { schema: z.object({ items: z.array(EventSchema) }) } }, description: 'events by start time' }, ...errorResponses };
  /** Events by start time, as the caller may see them (drafts only for their managers). */
  async function listEvents(auth: Auth, q: z.infer<typeof ListQuery>, ownerSlug?: string) {
    const qb = events.createQueryBuilder('e').where(`e.status <> 'deleting'`)
      .andWhere('e.start_at >= :from', { from: q.from ? new Date(q.from) : new Date(0) })
      .orderBy('e.start_at', 'ASC').addOrderBy('e.slug', 'ASC').limit(q.limit);
    if (q.to) qb.andWhere('e.start_at < :to', { to: new Date(q.to) });
    if (q.groupSlug) qb.andWhere('e.group_id = (SELECT id FROM groups WHERE slug = :g)', { g: q.groupSlug });
    if (ownerSlug) qb.andWhere('e.owner_id = (SELECT id FROM users WHERE slug = :owner)', { owner: ownerSlug });
    if (auth.role !== 'admin') {
      qb.andWhere(`(e.status <> 'draft' OR e.owner_id::text = :me OR EXISTS (SELECT 1 FROM group_members gm
        WHERE gm.group_id = e.group_id AND gm.user_id::text = :me AND gm.role IN ('owner', 'admin')))`, { me: auth.sub });
    }
    return { items: await toEventJsons(ds, await qb.getMany()) };
  }

  app.openapi(createRoute({
    method: 'get', path: '/v1/events', tags: ['events'], security: [{ bearer: [] }],
    summary: 'upcoming events with computed attendee counts',
    request: { query: ListQuery },
    responses: list,
  }), async (c) => c.json(await listEvents(c.get('auth'), c.req.valid('query')), 200));

  app.openapi(createRoute({
    method: 'get', path: '/v1/users/{slug}/events', tags: ['events', 'users'], security: [{ bearer: [] }],
    summary: 'the events a user hosts, by start time (their drafts only for them and their managers)',
    request: { params: Slug, query: ListQuery },
    responses: list,
  }), async (c) => {
    const { slug: ownerSlug } = c.req.valid('param');
    if (!(await ds.query(`SELECT 1 FROM users WHERE slug = $1`, [ownerSlug])).length) throw notFound('user', ownerSlug);
    return c.json(await listEvents(c.get('auth'), c.req.valid('query'), ownerSlug), 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/v1/events/{slug}', tags: ['events'], security: [{ bearer: [] }],
    request: { params: Slug },
    responses: { 200: { ...one, description: 'the event' }, ...errorResponses },
  }), async (c) => {
    const [json] = await toEventJsons(ds, [await findVisibleEvent(ds, c.req.valid('param').slug, c.get('auth'))]);
    return c.json(json, 200);
  });

  app.openapi(createRoute({
    method: 'patch', path: '/v1/events/{slug}', tags: ['events'], security: [{ bearer: [] }],
    summary: 'change fields (targeted column update); a raised capacity promotes from the waitlist',
    request: { params: Slug, body: { required: true, content: { 'application/json': { schema: PatchEvent } } } },
    responses: { 200: { ...one, description: 'the changed event' }, ...errorResponses },
  }), async (c) => {
    const { slug } = c.req.valid('param');
    const patch = c.req.valid('json');
    const before = await findVisibleEvent(ds, slug, c.get('auth'));
    await requireManager(ds, c.get('auth'), before);
    const start = patch.startAt ? Date.parse(patch.startAt) : before.startAt.getTime();
    const end = patch.endAt ? Date.parse(patch.endAt) : before.endAt.getTime();
    if (end < start) throw new DomainError('validation_failed', 'endAt must not be before startAt');
    if (patch.capacity != null && (await eventRoles(ds, before.id)).length) {
      throw new DomainError('capacity_per_role', `event ${slug} declares roles: their capacities apply (PUT /v1/events/${slug}/roles)`);
    }

    const set = setClause(eventColumns(patch));
    // An ingested event edited here: its record on the network stays the truth, so the next sync
    // or change of the record re-applies it (the stored CID no longer matches anything).
    const forgetCid = before.sourceType ? ', source_cid = NULL' : '';
    const { after, recorded } = await ds.transaction(async (m) => {
      const rows = await changedRows(m,
        `UPDATE events SET ${set.sql}${forgetCid}, updated_at = now() WHERE slug = $1 AND status <> 'deleting' RETURNING id`, [slug, ...set.values]);
      if (!rows.length) throw notFound('event', slug);
      const after = await m.getRepository(EventEntity).findOneByOrFail({ slug });
      return { after, recorded: await recordFollowUps(m, await afterEventChanged(m, config, after, {
        isTemplate: before.seriesSlug !== null && await recordSeriesChange(m, before, patch),
        capacityRaised: patch.capacity !== undefined && before.capacity !== null && (patch.capacity === null || patch.capacity > before.capacity),
        roomChanged: patch.chatEnabled === true || patch.name !== undefined || patch.description !== undefined,
      })) };
    });
    const operations = await followUps.deliver(recorded);
    const [json] = await toEventJsons(ds, [after]);
    return c.json({ ...json, operations }, 200);
  });

  const operations = operationReader(deps);
  app.openapi(createRoute({
    method: 'post', path: '/v1/events/{slug}/bluesky', tags: ['events'], security: [{ bearer: [] }],
    summary: 'publish or update the event on its owner\'s PDS now (bsky-publish:<slug>; a series occurrence: bsky-publish-series:<series>)',
    request: { params: Slug },
    responses: { 202: { content: { 'application/json': { schema: OperationSchema } }, description: 'the publication' }, ...errorResponses },
  }), async (c) => {
    const event = await findVisibleEvent(ds, c.req.valid('param').slug, c.get('auth'));
    await requireManager(ds, c.get('auth'), event);
    const [published] = await followUps.now([publishNow(event)]);
    return c.json(await operations.describe(published.id), 202);
  });

  app.openapi(createRoute({
    method: 'delete', path: '/v1/events/{slug}', tags: ['events'], security: [{ bearer: [] }],
    summary: 'cascade deletion as the workflow delete-event:<slug>; a repeat while it runs answers the same operation',
    request: { params: Slug },
    responses: { 202: { content: { 'application/json': { schema: OperationSchema } }, description: 'the deletion' }, ...errorResponses },
  }), async (c) => {
    const { slug } = c.req.valid('param');
    const event = await events.findOneBy({ slug }); // a tombstoned one too: the running deletion is answered
    if (!event) throw notFound('event', slug);
    await requireManager(ds, c.get('auth'), event);
    return c.json(await operations.start('delete-event', slug, { eventSlug: slug }, c.get('auth').sub), 202);
  });

  return app;
}

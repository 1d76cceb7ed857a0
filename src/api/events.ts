import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { DataSource } from 'typeorm';
import { DomainError, notFound } from '../domain/errors.ts';
import { eventRoles } from '../db/event-roles.ts';
import { makeSlug } from '../domain/slug.ts';
import { eventBySlug, eventColumns, insertEvent, listEvents, updateLiveEvent, type EventFilter } from '../db/events.ts';
import { recordOccurrenceChange } from '../db/series.ts';
import { userBySlug } from '../db/users.ts';
import { cursor, datetime, patchOf, slug, SlugParam } from './fields.ts';
import { readKey, writeKey } from './keyset.ts';
import { recordFollowUps } from '../follow-ups/outbox.ts';
import { afterEventChanged, afterEventCreated, publishNow } from '../follow-ups/rules.ts';
import { findVisibleEvent, groupForNewItem, requireManager, requireUser } from './access.ts';
import { newEventJson, toEventJsons } from './answers.ts';
import type { Auth, AuthEnv } from './auth.ts';
import type { RouteApp, RouteDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { commitCreated } from './created.ts';
import { idempotent } from './idempotency.ts';
import { operationReader } from './operation-reader.ts';
import { editable, EventSchema, OperationSchema } from './schemas.ts';

const CreateEvent = z.object({
  ...editable,
  description: editable.description.optional(), capacity: editable.capacity.optional(),
  chatEnabled: editable.chatEnabled.default(false), publishToBluesky: editable.publishToBluesky.default(null),
  location: editable.location.optional(), onlineUrl: editable.onlineUrl.optional(), country: editable.country.optional(),
  status: z.enum(['draft', 'published']).default('published'),
  groupSlug: slug.optional(),
}).strict().refine((e) => Date.parse(e.endAt) >= Date.parse(e.startAt), { message: 'endAt must not be before startAt', path: ['endAt'] });
const PatchEvent = patchOf(editable);

const Slug = SlugParam;

const one = { content: { 'application/json': { schema: EventSchema } } };

const ListQuery = z.object({
  from: datetime.optional(), to: datetime.optional(), groupSlug: slug.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: cursor.optional(),
});

const list = {
  200: { content: { 'application/json': { schema: z.object({ items: z.array(EventSchema), nextCursor: z.string().nullable() }) } }, description: 'events by start time' },
  ...errorResponses,
};
/** Keys of event pages: (start, slug). Starts are written from JavaScript Dates: milliseconds are exact. */
const SLUG = /^[a-z0-9-]{1,200}$/;

/** Events by start time, as the caller may see them (drafts only for their managers). */
async function eventsFor(ds: DataSource, auth: Auth, q: z.infer<typeof ListQuery>, ownerSlug?: string) {
  const filter: EventFilter = {
    from: q.from ? new Date(q.from) : new Date(0), to: q.to ? new Date(q.to) : undefined, groupSlug: q.groupSlug, ownerSlug,
    draftsOf: auth.role === 'admin' ? undefined : auth.sub, limit: q.limit + 1,
  };
  if (q.cursor) {
    const [startAt, after] = readKey(q.cursor, ['instant', SLUG]) as [string, string];
    filter.after = { startAt: new Date(startAt), slug: after };
  }
  const rows = await listEvents(ds, filter);
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return { items: await toEventJsons(ds, page), nextCursor: rows.length > q.limit && last ? writeKey([last.startAt.toISOString(), last.slug]) : null };
}

type Ctx = RouteDeps & { operations: ReturnType<typeof operationReader> };

export function eventsRoutes(deps: RouteDeps) {
  const app: RouteApp = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  const ctx: Ctx = { ...deps, operations: operationReader(deps) };
  for (const route of [createEvent, listAllEvents, listUserEvents, getEvent, patchEvent, publishEventNow, deleteEvent]) route(app, ctx);
  return app;
}

function createEvent(app: RouteApp, ctx: Ctx): void {
  const { ds, config, followUps } = ctx;
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
      const event = await insertEvent(m, {
        slug: makeSlug(body.name), name: body.name, description: body.description ?? null,
        startAt: new Date(body.startAt), endAt: new Date(body.endAt), timeZone: body.timeZone,
        status: body.status, ownerId: owner.id, groupId, capacity: body.capacity ?? null,
        chatEnabled: body.chatEnabled, publishToBluesky: body.publishToBluesky,
        location: body.location ?? null, onlineUrl: body.onlineUrl ?? null, country: body.country ?? null,
      });
      return commitCreated(c, m, newEventJson(event, groupId ? body.groupSlug! : null), await afterEventCreated(m, config, event));
    });
    return c.json({ ...answer, operations: await followUps.deliver(recorded) }, 201);
  });
}

function listAllEvents(app: RouteApp, ctx: Ctx): void {
  const { ds } = ctx;
  app.openapi(createRoute({
    method: 'get', path: '/v1/events', tags: ['events'], security: [{ bearer: [] }],
    summary: 'upcoming events with computed attendee counts',
    request: { query: ListQuery },
    responses: list,
  }), async (c) => c.json(await eventsFor(ds, c.get('auth'), c.req.valid('query')), 200));
}

function listUserEvents(app: RouteApp, ctx: Ctx): void {
  const { ds } = ctx;
  app.openapi(createRoute({
    method: 'get', path: '/v1/users/{slug}/events', tags: ['events', 'users'], security: [{ bearer: [] }],
    summary: 'the events a user hosts, by start time (their drafts only for them and their managers)',
    request: { params: Slug, query: ListQuery },
    responses: list,
  }), async (c) => {
    const { slug: ownerSlug } = c.req.valid('param');
    if (!await userBySlug(ds, ownerSlug)) throw notFound('user', ownerSlug);
    return c.json(await eventsFor(ds, c.get('auth'), c.req.valid('query'), ownerSlug), 200);
  });
}

function getEvent(app: RouteApp, ctx: Ctx): void {
  const { ds } = ctx;
  app.openapi(createRoute({
    method: 'get', path: '/v1/events/{slug}', tags: ['events'], security: [{ bearer: [] }],
    request: { params: Slug },
    responses: { 200: { ...one, description: 'the event' }, ...errorResponses },
  }), async (c) => {
    const [json] = await toEventJsons(ds, [await findVisibleEvent(ds, c.req.valid('param').slug, c.get('auth'))]);
    return c.json(json, 200);
  });
}

function patchEvent(app: RouteApp, ctx: Ctx): void {
  const { ds, config, followUps } = ctx;
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

    const { after, recorded } = await ds.transaction(async (m) => {
      // An ingested event edited here: its record on the network stays the truth, so the next sync
      // or change of the record re-applies it (the stored CID no longer matches anything).
      const updated = await updateLiveEvent(m, slug, eventColumns(patch), before.sourceType !== null);
      if (!updated) throw notFound('event', slug);
      const after = updated.event;
      return { after, recorded: await recordFollowUps(m, await afterEventChanged(m, config, after, {
        isTemplate: before.seriesSlug !== null && await recordOccurrenceChange(m, before, patch),
        seatsFreed: updated.seatsFreed,
        roomChanged: patch.chatEnabled === true || patch.name !== undefined || patch.description !== undefined,
      })) };
    });
    const operations = await followUps.deliver(recorded);
    const [json] = await toEventJsons(ds, [after]);
    return c.json({ ...json, operations }, 200);
  });
}

function publishEventNow(app: RouteApp, ctx: Ctx): void {
  const { ds, followUps, operations } = ctx;
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
}

function deleteEvent(app: RouteApp, ctx: Ctx): void {
  const { ds, operations } = ctx;
  app.openapi(createRoute({
    method: 'delete', path: '/v1/events/{slug}', tags: ['events'], security: [{ bearer: [] }],
    summary: 'cascade deletion as the workflow delete-event:<slug>; a repeat while it runs answers the same operation',
    request: { params: Slug },
    responses: { 202: { content: { 'application/json': { schema: OperationSchema } }, description: 'the deletion' }, ...errorResponses },
  }), async (c) => {
    const { slug } = c.req.valid('param');
    const event = await eventBySlug(ds, slug); // a tombstoned one too: the running deletion is answered
    if (!event) throw notFound('event', slug);
    await requireManager(ds, c.get('auth'), event);
    return c.json(await operations.start('delete-event', slug, { eventSlug: slug }, c.get('auth').sub), 202);
  });
}

import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { DomainError, notFound } from '../domain/errors.ts';
import { checkSeries, parseRule } from '../domain/recurrence.ts';
import { occurrenceSlug } from '../domain/series.ts';
import { makeSlug } from '../domain/slug.ts';
import { recordFollowUps } from '../follow-ups/outbox.ts';
import { afterSeriesChanged } from '../follow-ups/rules.ts';
import { authorizeSeries, groupForNewItem, loadSeries, requireManager, requireUser } from './access.ts';
import type { AuthEnv } from './auth.ts';
import type { RouteApp, RouteDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { eventColumns, eventStart, updateEventById } from '../db/events.ts';
import { insertSeries, seriesOwnership, updateSeriesRow, type SeriesRow } from '../db/series.ts';
import { editable } from './schemas.ts';
import { datetime, followUpOperations, patchOf, slug, SlugParam } from './fields.ts';
import { commitCreated } from './created.ts';
import { idempotent } from './idempotency.ts';
import { operationReader } from './operation-reader.ts';
import { OperationSchema } from './schemas.ts';

const SeriesSchema = z.object({
  slug: z.string(), name: z.string(), description: z.string().nullable(), rrule: z.string(),
  startAt: z.string(), endAt: z.string(), timeZone: z.string(), ownerId: z.string().uuid(),
  templateEventSlug: z.string(), materializedUntil: z.string().nullable(),
  operations: followUpOperations.optional(),
}).openapi('Series');

/** RFC 5545 RRULE parts meetflow honours, as `KEY=VALUE;…` (the values are checked part by part on top). */
const rrule = z.string().max(500)
  .regex(/^(RRULE:)?(FREQ|INTERVAL|COUNT|UNTIL|BYDAY|WKST|BYMONTHDAY|BYMONTH|BYSETPOS|BYYEARDAY|BYWEEKNO)=[A-Za-z0-9,+-]{1,40}(;(FREQ|INTERVAL|COUNT|UNTIL|BYDAY|WKST|BYMONTHDAY|BYMONTH|BYSETPOS|BYYEARDAY|BYWEEKNO)=[A-Za-z0-9,+-]{1,40}){0,8}$/i,
    'invalid rrule: KEY=VALUE parts of FREQ, INTERVAL, COUNT, UNTIL, BYDAY, WKST, BYMONTHDAY, BYMONTH, BYSETPOS, BYYEARDAY, BYWEEKNO (times of day come from startAt: BYHOUR and the like are not supported)')
  .openapi({ example: 'FREQ=WEEKLY;BYDAY=TU' });
/** Template fields shared by every occurrence; also what PATCH may change. */
const templateFields = {
  name: editable.name, description: editable.description.optional(), capacity: editable.capacity.optional(),
  chatEnabled: editable.chatEnabled.optional(), publishToBluesky: editable.publishToBluesky.optional(),
  location: editable.location.optional(), onlineUrl: editable.onlineUrl.optional(), country: editable.country.optional(),
};
const CreateSeries = z.object({
  ...templateFields, rrule, startAt: datetime, endAt: datetime, timeZone: editable.timeZone,
  groupSlug: slug.optional(),
}).strict();
const PatchSeries = patchOf({ ...templateFields, rrule, startAt: datetime, endAt: datetime, timeZone: editable.timeZone });


const toJson = (s: SeriesRow) => ({
  slug: s.slug, name: s.name, description: s.description, rrule: s.rrule,
  startAt: s.dtstart.toISOString(), endAt: new Date(s.dtstart.getTime() + s.duration_minutes * 60_000).toISOString(),
  timeZone: s.time_zone, ownerId: s.owner_id, templateEventSlug: s.template_slug,
  materializedUntil: s.materialized_until?.toISOString() ?? null,
});

function durationMinutes(startAt: string | Date, endAt: string | Date): number {
  const minutes = (new Date(endAt).getTime() - new Date(startAt).getTime()) / 60_000;
  if (!(minutes >= 1)) throw new DomainError('validation_failed', 'endAt must be at least a minute after startAt');
  if (minutes > 366 * 24 * 60) throw new DomainError('validation_failed', 'an occurrence lasts at most 366 days');
  return Math.round(minutes);
}

const Slug = SlugParam;

const one = { content: { 'application/json': { schema: SeriesSchema } } };

type Ctx = RouteDeps & { operations: ReturnType<typeof operationReader> };

export function seriesRoutes(deps: RouteDeps) {
  const app: RouteApp = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  const ctx: Ctx = { ...deps, operations: operationReader(deps) };
  for (const route of [createSeries, getSeries, patchSeries, deleteSeries]) route(app, ctx);
  return app;
}

function createSeries(app: RouteApp, ctx: Ctx): void {
  const { ds, followUps } = ctx;
  app.openapi(createRoute({
    method: 'post', path: '/v1/series', tags: ['series'], security: [{ bearer: [] }],
    summary: 'create a series and its template event (occurrence zero); materialization runs as series:<slug>',
    middleware: [idempotent(ds)] as const,
    request: { body: { required: true, content: { 'application/json': { schema: CreateSeries } } } },
    responses: { 201: { ...one, description: 'created' }, ...errorResponses },
  }), async (c) => {
    const b = c.req.valid('json');
    checkSeries({ rrule: b.rrule, dtstart: new Date(b.startAt), timeZone: b.timeZone });
    const minutes = durationMinutes(b.startAt, b.endAt);
    const owner = await requireUser(ds, c.get('auth'));
    const groupId = await groupForNewItem(ds, owner, b.groupSlug);
    const slug = makeSlug(b.name);
    const start = new Date(b.startAt);
    // The series, its template, its follow-ups and the kept answer commit together.
    const { recorded, answer } = await ds.transaction(async (m) => {
      await insertSeries(m, {
        slug, rrule: b.rrule.replace(/^RRULE:/i, ''), dtstart: start, durationMinutes: minutes, timeZone: b.timeZone, ownerId: owner.id, groupId,
        template: {
          slug: occurrenceSlug(slug, start, b.timeZone), name: b.name, description: b.description ?? null, endAt: new Date(b.endAt),
          capacity: b.capacity ?? null, chatEnabled: b.chatEnabled ?? false, publishToBluesky: b.publishToBluesky ?? null,
          location: b.location ?? null, onlineUrl: b.onlineUrl ?? null, country: b.country ?? null,
        },
      });
      return commitCreated(c, m, toJson(await loadSeries(m, slug)), await afterSeriesChanged(m, slug));
    });
    return c.json({ ...answer, operations: await followUps.deliver(recorded) }, 201);
  });
}

function getSeries(app: RouteApp, ctx: Ctx): void {
  const { ds } = ctx;
  app.openapi(createRoute({
    method: 'get', path: '/v1/series/{slug}', tags: ['series'], security: [{ bearer: [] }],
    request: { params: Slug },
    responses: { 200: { ...one, description: 'the series' }, ...errorResponses },
  }), async (c) => c.json(toJson(await loadSeries(ds, c.req.valid('param').slug)), 200));
}

function patchSeries(app: RouteApp, ctx: Ctx): void {
  const { ds, followUps } = ctx;
  app.openapi(createRoute({
    method: 'patch', path: '/v1/series/{slug}', tags: ['series'], security: [{ bearer: [] }],
    summary: 'change the rule, times or fields; future unmodified occurrences are re-materialized',
    request: { params: Slug, body: { required: true, content: { 'application/json': { schema: PatchSeries } } } },
    responses: { 200: { ...one, description: 'the changed series' }, ...errorResponses },
  }), async (c) => {
    const { slug } = c.req.valid('param');
    const p = c.req.valid('json');
    if (p.rrule) parseRule(p.rrule);
    const current = await authorizeSeries(ds, slug, c.get('auth')); // before any lock: a stranger never queues on the row
    if (p.rrule || p.startAt || p.timeZone) {
      checkSeries({ rrule: p.rrule ?? current.rrule, dtstart: p.startAt ? new Date(p.startAt) : current.dtstart, timeZone: p.timeZone ?? current.time_zone });
    }
    const recorded = await ds.transaction(async (m) => {
      const s = await loadSeries(m, slug, true);
      await requireManager(m, c.get('auth'), { ownerId: s.owner_id, groupId: s.group_id, slug });
      const dtstart = p.startAt ? new Date(p.startAt) : s.dtstart;
      const minutes = p.startAt || p.endAt
        ? durationMinutes(dtstart, p.endAt ?? new Date(dtstart.getTime() + s.duration_minutes * 60_000)) : undefined;
      await updateSeriesRow(m, slug, {
        rrule: p.rrule?.replace(/^RRULE:/i, ''), dtstart: p.startAt ? dtstart : undefined, duration_minutes: minutes,
        time_zone: p.timeZone, name: p.name, description: p.description,
      });
      // The template carries the fields every occurrence copies; it moves in time only while it is ahead.
      const { rrule: _r, startAt: _s, endAt: _e, ...fields } = p;
      const columns = eventColumns(fields);
      const templateStart = await eventStart(m, s.template_event_id);
      if ((p.startAt || p.endAt) && templateStart && templateStart > new Date()) {
        Object.assign(columns, { start_at: dtstart, original_start: dtstart, end_at: new Date(dtstart.getTime() + (minutes ?? s.duration_minutes) * 60_000) });
      }
      const { seatsFreed } = await updateEventById(m, s.template_event_id, columns);
      return recordFollowUps(m, await afterSeriesChanged(m, slug, seatsFreed ? [s.template_slug] : []));
    });
    const operations = await followUps.deliver(recorded);
    return c.json({ ...toJson(await loadSeries(ds, slug)), operations }, 200);
  });
}

function deleteSeries(app: RouteApp, ctx: Ctx): void {
  const { ds, operations } = ctx;
  app.openapi(createRoute({
    method: 'delete', path: '/v1/series/{slug}', tags: ['series'], security: [{ bearer: [] }],
    summary: 'scope=all deletes every occurrence and the series; scope=future ends it now and keeps the past',
    request: { params: Slug, query: z.object({ scope: z.enum(['all', 'future']).default('all') }) },
    responses: { 202: { content: { 'application/json': { schema: OperationSchema } }, description: 'the deletion' }, ...errorResponses },
  }), async (c) => {
    const { slug } = c.req.valid('param');
    const { scope } = c.req.valid('query');
    const s = await seriesOwnership(ds, slug);
    if (!s) throw notFound('series', slug);
    await requireManager(ds, c.get('auth'), { ...s, slug });
    return c.json(await operations.start('delete-series', slug, { seriesSlug: slug, scope }, c.get('auth').sub), 202);
  });
}

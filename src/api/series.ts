import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { DataSource, EntityManager } from 'typeorm';
import { DomainError, notFound } from '../domain/errors.ts';
import { checkSeries, EARLIEST, isOccurrence, LATEST, occurrences, parseRule } from '../domain/recurrence.ts';
import { occurrenceSlug } from '../domain/series.ts';
import { makeSlug } from '../domain/slug.ts';
import { recordFollowUps } from '../follow-ups/outbox.ts';
import { afterOccurrencesChanged, afterSeriesChanged } from '../follow-ups/rules.ts';
import { groupForNewItem, requireManager, requireUser } from './access.ts';
import type { Auth, AuthEnv } from './auth.ts';
import type { RouteDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { eventColumns, eventStart, updateEventById } from '../db/events.ts';
import {
  insertOccurrenceFromTemplate, insertSeries, liveSeries, occurrenceAt, occurrencesBetween, seriesOwnership, updateSeriesRow,
  upsertException, type SeriesRow,
} from '../db/series.ts';
import { editable } from './schemas.ts';
import { datetime, followUpOperations, patchOf, slug, SlugParam } from './fields.ts';
import { commitCreated } from './created.ts';
import { idempotent } from './idempotency.ts';
import { operationReader } from './operations.ts';
import { OperationSchema } from './schemas.ts';

const SeriesSchema = z.object({
  slug: z.string(), name: z.string(), description: z.string().nullable(), rrule: z.string(),
  startAt: z.string(), endAt: z.string(), timeZone: z.string(), ownerId: z.string().uuid(),
  templateEventSlug: z.string(), materializedUntil: z.string().nullable(),
  operations: followUpOperations.optional(),
}).openapi('Series');

const Occurrence = z.object({
  originalStart: z.string(), startAt: z.string(), endAt: z.string(),
  status: z.enum(['draft', 'published', 'cancelled']),
  eventSlug: z.string().nullable(), template: z.boolean(),
  exception: z.enum(['modified', 'cancelled', 'deleted']).nullable(),
}).openapi('Occurrence');

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
const PatchOccurrence = patchOf({
  status: z.literal('cancelled'), name: editable.name, description: editable.description, startAt: datetime, endAt: datetime,
  capacity: editable.capacity, location: editable.location, onlineUrl: editable.onlineUrl, country: editable.country,
});

async function loadSeries(q: DataSource | EntityManager, slug: string, lock = false): Promise<SeriesRow> {
  const row = await liveSeries(q, slug, lock);
  if (!row) throw notFound('series', slug);
  return row;
}

const toJson = (s: SeriesRow) => ({
  slug: s.slug, name: s.name, description: s.description, rrule: s.rrule,
  startAt: s.dtstart.toISOString(), endAt: new Date(s.dtstart.getTime() + s.duration_minutes * 60_000).toISOString(),
  timeZone: s.time_zone, ownerId: s.owner_id, templateEventSlug: s.template_slug,
  materializedUntil: s.materialized_until?.toISOString() ?? null,
});

/** Occurrence queries page through time in windows of at most five years. */
const MAX_WINDOW_MS = 5 * 366 * 86_400_000;

function durationMinutes(startAt: string | Date, endAt: string | Date): number {
  const minutes = (new Date(endAt).getTime() - new Date(startAt).getTime()) / 60_000;
  if (!(minutes >= 1)) throw new DomainError('validation_failed', 'endAt must be at least a minute after startAt');
  if (minutes > 366 * 24 * 60) throw new DomainError('validation_failed', 'an occurrence lasts at most 366 days');
  return Math.round(minutes);
}

export function seriesRoutes(deps: RouteDeps) {
  const { ds, followUps } = deps;
  async function authorize(slug: string, auth: Auth): Promise<SeriesRow> {
    const s = await loadSeries(ds, slug);
    await requireManager(ds, auth, { ownerId: s.owner_id, groupId: s.group_id, slug });
    return s;
  }
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  const Slug = SlugParam;
  const one = { content: { 'application/json': { schema: SeriesSchema } } };

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

  app.openapi(createRoute({
    method: 'get', path: '/v1/series/{slug}', tags: ['series'], security: [{ bearer: [] }],
    request: { params: Slug },
    responses: { 200: { ...one, description: 'the series' }, ...errorResponses },
  }), async (c) => c.json(toJson(await loadSeries(ds, c.req.valid('param').slug)), 200));

  app.openapi(createRoute({
    method: 'patch', path: '/v1/series/{slug}', tags: ['series'], security: [{ bearer: [] }],
    summary: 'change the rule, times or fields; future unmodified occurrences are re-materialized',
    request: { params: Slug, body: { required: true, content: { 'application/json': { schema: PatchSeries } } } },
    responses: { 200: { ...one, description: 'the changed series' }, ...errorResponses },
  }), async (c) => {
    const { slug } = c.req.valid('param');
    const p = c.req.valid('json');
    if (p.rrule) parseRule(p.rrule);
    const current = await authorize(slug, c.get('auth')); // before any lock: a stranger never queues on the row
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
      await updateEventById(m, s.template_event_id, columns);
      return recordFollowUps(m, await afterSeriesChanged(m, slug));
    });
    const operations = await followUps.deliver(recorded);
    return c.json({ ...toJson(await loadSeries(ds, slug)), operations }, 200);
  });

  app.openapi(createRoute({
    method: 'patch', path: '/v1/series/{slug}/occurrences/{originalStart}', tags: ['series'], security: [{ bearer: [] }],
    summary: 'modify or cancel one occurrence (an exception that re-materialization never overwrites)',
    request: {
      params: Slug.extend({ originalStart: datetime }),
      body: { required: true, content: { 'application/json': { schema: PatchOccurrence } } },
    },
    responses: {
      200: { content: { 'application/json': { schema: z.object({
        originalStart: z.string(), kind: z.enum(['modified', 'cancelled']), eventSlug: z.string().nullable(), operations: followUpOperations,
      }) } }, description: 'the exception' },
      ...errorResponses,
    },
  }), async (c) => {
    const { slug, originalStart } = c.req.valid('param');
    const p = c.req.valid('json');
    const at = new Date(originalStart);
    const kind = p.status === 'cancelled' ? 'cancelled' as const : 'modified' as const;
    await authorize(slug, c.get('auth'));
    const { eventSlug, recorded } = await ds.transaction(async (m) => {
      const s = await loadSeries(m, slug, true);
      await requireManager(m, c.get('auth'), { ownerId: s.owner_id, groupId: s.group_id, slug });
      const spec = { rrule: s.rrule, dtstart: s.dtstart, timeZone: s.time_zone };
      const isTemplate = at.getTime() === s.template_original_start.getTime();
      if (!isTemplate && !isOccurrence(spec, at)) throw notFound('occurrence', originalStart);

      const { status: _st, ...overrides } = p;
      let event = await occurrenceAt(m, slug, at);
      // Beyond the horizon: materialize this one occurrence now, from the template.
      if (!event && kind === 'modified') event = await insertOccurrenceFromTemplate(m, s, at, occurrenceSlug(slug, at, s.time_zone));
      if (event) {
        const start = p.startAt ? new Date(p.startAt) : event.start_at;
        const end = p.endAt ? new Date(p.endAt) : p.startAt ? new Date(start.getTime() + (event.end_at.getTime() - event.start_at.getTime())) : event.end_at;
        if (end < start) throw new DomainError('validation_failed', 'endAt must not be before startAt');
        const columns = eventColumns(overrides);
        if (p.startAt || p.endAt) Object.assign(columns, { start_at: start, end_at: end });
        if (kind === 'cancelled') columns.status = 'cancelled';
        await updateEventById(m, event.id, columns);
      }
      await upsertException(m, { seriesSlug: slug, originalStart: at, kind, eventId: event?.id ?? null, overrides });
      // The series' record may show this occurrence: its publisher looks again.
      return { eventSlug: event?.slug ?? null, recorded: await recordFollowUps(m, await afterOccurrencesChanged(m, slug)) };
    });
    return c.json({ originalStart: at.toISOString(), kind, eventSlug, operations: await followUps.deliver(recorded) }, 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/v1/series/{slug}/occurrences', tags: ['series'], security: [{ bearer: [] }],
    summary: 'computed occurrences merged with materialized events and exceptions, beyond the horizon too',
    request: {
      params: Slug,
      query: z.object({ from: datetime.optional(), to: datetime.optional(), limit: z.coerce.number().int().min(1).max(1000).default(200) }),
    },
    responses: { 200: { content: { 'application/json': { schema: z.object({ items: z.array(Occurrence) }) } }, description: 'occurrences by start' }, ...errorResponses },
  }), async (c) => {
    const { slug } = c.req.valid('param');
    const q = c.req.valid('query');
    const s = await loadSeries(ds, slug);
    const from = q.from ? new Date(q.from) : new Date();
    const to = q.to ? new Date(q.to) : new Date(from.getTime() + 365 * 86_400_000);
    if (to <= from) throw new DomainError('validation_failed', 'to must be after from');
    if (to.getTime() - from.getTime() > MAX_WINDOW_MS || from < EARLIEST || to > LATEST) {
      throw new DomainError('validation_failed', `the window is at most 5 years, within ${EARLIEST.getUTCFullYear()}..${LATEST.getUTCFullYear() - 1}; page with from/to`);
    }
    const spec = { rrule: s.rrule, dtstart: s.dtstart, timeZone: s.time_zone };
    const found = await occurrencesBetween(ds, slug, from, to);
    const events = found.events;
    const exceptions = new Map(found.exceptions.map((x) => [x.original_start.getTime(), x.kind]));
    const byStart = new Map(events.map((e) => [e.original_start.getTime(), e]));
    const starts = new Set([...occurrences(spec, { from, to, limit: q.limit }).map((d) => d.getTime()), ...byStart.keys()]);
    const durationMs = s.duration_minutes * 60_000;
    const items = [...starts].sort((a, b) => a - b).slice(0, q.limit).flatMap((t) => {
      const e = byStart.get(t);
      const exception = exceptions.get(t) ?? null;
      if (exception === 'deleted' && !e) return [];
      return [{
        originalStart: new Date(t).toISOString(),
        startAt: (e?.start_at ?? new Date(t)).toISOString(), endAt: (e?.end_at ?? new Date(t + durationMs)).toISOString(),
        status: (e?.status ?? (exception === 'cancelled' ? 'cancelled' : 'published')) as 'draft' | 'published' | 'cancelled',
        eventSlug: e?.slug ?? null, template: e?.id === s.template_event_id, exception,
      }];
    });
    return c.json({ items }, 200);
  });

  const operations = operationReader(deps);
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

  return app;
}

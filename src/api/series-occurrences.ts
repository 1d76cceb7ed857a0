import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { DomainError, notFound } from '../domain/errors.ts';
import { EARLIEST, isOccurrence, LATEST, occurrences } from '../domain/recurrence.ts';
import { occurrenceSlug } from '../domain/series.ts';
import { eventColumns, updateEventById } from '../db/events.ts';
import { insertOccurrenceFromTemplate, occurrenceAt, occurrencesBetween, upsertException } from '../db/series.ts';
import { recordFollowUps } from '../follow-ups/outbox.ts';
import { afterOccurrencesChanged } from '../follow-ups/rules.ts';
import { authorizeSeries, loadSeries, requireManager } from './access.ts';
import type { AuthEnv } from './auth.ts';
import type { RouteApp, RouteDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { cursor, datetime, followUpOperations, patchOf, SlugParam } from './fields.ts';
import { readKey, writeKey } from './keyset.ts';
import { editable } from './schemas.ts';

// A series' occurrences: listed (computed, materialized and excepted), and changed one at a time.

const Occurrence = z.object({
  originalStart: z.string(), startAt: z.string(), endAt: z.string(),
  status: z.enum(['draft', 'published', 'cancelled']),
  eventSlug: z.string().nullable(), template: z.boolean(),
  exception: z.enum(['modified', 'cancelled', 'deleted']).nullable(),
}).openapi('Occurrence');

const PatchOccurrence = patchOf({
  status: z.literal('cancelled'), name: editable.name, description: editable.description, startAt: datetime, endAt: datetime,
  capacity: editable.capacity, location: editable.location, onlineUrl: editable.onlineUrl, country: editable.country,
});

/** Occurrence queries page through time in windows of at most five years. */
const MAX_WINDOW_MS = 5 * 366 * 86_400_000;

const Slug = SlugParam;
type Ctx = RouteDeps;

export function occurrenceRoutes(deps: RouteDeps) {
  const app: RouteApp = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  for (const route of [patchOccurrence, listOccurrences]) route(app, deps);
  return app;
}

function patchOccurrence(app: RouteApp, ctx: Ctx): void {
  const { ds, followUps } = ctx;
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
    await authorizeSeries(ds, slug, c.get('auth'));
    const { eventSlug, recorded } = await ds.transaction(async (m) => {
      const s = await loadSeries(m, slug, true);
      await requireManager(m, c.get('auth'), { ownerId: s.owner_id, groupId: s.group_id, slug });
      const spec = { rrule: s.rrule, dtstart: s.dtstart, timeZone: s.time_zone };
      const isTemplate = at.getTime() === s.template_original_start.getTime();
      if (!isTemplate && !isOccurrence(spec, at)) throw notFound('occurrence', originalStart);

      const { status: _st, ...overrides } = p;
      let event = await occurrenceAt(m, slug, at);
      const freed: string[] = [];
      // Beyond the horizon: materialize this one occurrence now, from the template.
      if (!event && kind === 'modified') event = await insertOccurrenceFromTemplate(m, s, at, occurrenceSlug(slug, at, s.time_zone));
      if (event) {
        const start = p.startAt ? new Date(p.startAt) : event.start_at;
        const end = p.endAt ? new Date(p.endAt) : p.startAt ? new Date(start.getTime() + (event.end_at.getTime() - event.start_at.getTime())) : event.end_at;
        if (end < start) throw new DomainError('validation_failed', 'endAt must not be before startAt');
        const columns = eventColumns(overrides);
        if (p.startAt || p.endAt) Object.assign(columns, { start_at: start, end_at: end });
        if (kind === 'cancelled') columns.status = 'cancelled';
        if ((await updateEventById(m, event.id, columns)).seatsFreed) freed.push(event.slug);
      }
      await upsertException(m, { seriesSlug: slug, originalStart: at, kind, eventId: event?.id ?? null, overrides });
      // The series' record may show this occurrence: its publisher looks again.
      return { eventSlug: event?.slug ?? null, recorded: await recordFollowUps(m, await afterOccurrencesChanged(m, slug, freed)) };
    });
    return c.json({ originalStart: at.toISOString(), kind, eventSlug, operations: await followUps.deliver(recorded) }, 200);
  });
}

function listOccurrences(app: RouteApp, ctx: Ctx): void {
  const { ds } = ctx;
  app.openapi(createRoute({
    method: 'get', path: '/v1/series/{slug}/occurrences', tags: ['series'], security: [{ bearer: [] }],
    summary: 'computed occurrences merged with materialized events and exceptions, beyond the horizon too',
    request: {
      params: Slug,
      query: z.object({
        from: datetime.optional(), to: datetime.optional(), limit: z.coerce.number().int().min(1).max(1000).default(200),
        cursor: cursor.optional().openapi({ description: 'the next page of the same window (`nextCursor`); pass the same `to`' }),
      }),
    },
    responses: {
      200: { content: { 'application/json': { schema: z.object({ items: z.array(Occurrence), nextCursor: z.string().nullable() }) } }, description: 'occurrences by start' },
      ...errorResponses,
    },
  }), async (c) => {
    const { slug } = c.req.valid('param');
    const q = c.req.valid('query');
    const s = await loadSeries(ds, slug);
    const resume = q.cursor ? readKey(q.cursor, ['instant'])[0] as string : null;
    const from = resume ? new Date(resume) : q.from ? new Date(q.from) : new Date();
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
    const starts = new Set([...occurrences(spec, { from, to, limit: q.limit + 1 }).map((d) => d.getTime()), ...byStart.keys()]);
    const durationMs = s.duration_minutes * 60_000;
    const page = [...starts].sort((a, b) => a - b);
    const taken = page.slice(0, q.limit);
    const items = taken.flatMap((t) => {
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
    // More in the window (one computed beyond the limit says so): the next page starts just after the last one taken.
    const nextCursor = page.length > q.limit ? writeKey([new Date(taken[taken.length - 1] + 1).toISOString()]) : null;
    return c.json({ items, nextCursor }, 200);
  });
}

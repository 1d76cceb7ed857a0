import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { rsvp, rsvpIfQuiet, type Registration, type RsvpIntent } from '../domain/rsvp.ts';
import { recordFollowUps, type Recorded } from '../follow-ups/outbox.ts';
import { afterRsvp } from '../follow-ups/rules.ts';
import { attendeesPage } from '../db/attendees.ts';
import { findVisibleEvent, isManager, requireUserId, rsvpAccess } from './access.ts';
import type { Auth, AuthEnv } from './auth.ts';
import type { RouteDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { rsvpAnswer } from './answers.ts';
import { RsvpAnswer } from './schemas.ts';
import { cursor, roleName, SlugParam, text } from './fields.ts';
import { PG_TIMESTAMP, readKey, writeKey } from './keyset.ts';

const Attendee = z.object({
  user: z.object({ slug: z.string(), displayName: z.string() }),
  status: z.enum(['confirmed', 'waitlisted', 'maybe', 'cancelled']),
  role: z.string().nullable(),
  waitlistPosition: z.number().int().optional().openapi({ description: 'place in the waitlist of the role (or the event)' }),
  notes: z.string().nullable().optional().openapi({ description: 'for the event\'s managers and the person only' }),
  specialRequirements: z.string().nullable().optional().openapi({ description: 'for the event\'s managers and the person only' }),
  since: z.string(),
}).openapi('Attendee');


export function attendeesRoutes({ ds, config, followUps }: RouteDeps) {
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  const Slug = SlugParam;
  const answer = { content: { 'application/json': { schema: RsvpAnswer } } };

  /**
   * The row change commits with the follow-ups it sets in motion (the outbox); delivery comes after.
   * An RSVP that sets nothing in motion is one statement: who, and for what, then the decision and
   * its write (the event's lock held inside Postgres only). The same read names the user in the
   * follow-ups of one that does.
   */
  async function respond(slug: string, auth: Auth, intent: RsvpIntent, { registration = {}, hideDraft }: { registration?: Registration; hideDraft: boolean }) {
    const first = await rsvpIfQuiet(ds, slug, requireUserId(auth), intent, registration, { chatOn: config.CHAT_ENABLED, hideDraft });
    const caller = await rsvpAccess(ds, auth, slug, first.caller, hideDraft);
    if (first.result) return rsvpAnswer(first.result, []);
    let recorded: Recorded[] = [];
    const result = await rsvp(ds, slug, caller.id, intent, async (m, r) => { recorded = await recordFollowUps(m, await afterRsvp(m, config, slug, r, caller)); }, registration);
    return rsvpAnswer(result, await followUps.deliver(recorded));
  }

  app.openapi(createRoute({
    method: 'post', path: '/v1/events/{slug}/attendees', tags: ['attendees'], security: [{ bearer: [] }],
    summary: 'RSVP as the caller: going confirms while seats are free, then waitlists',
    request: {
      params: Slug,
      body: { required: true, content: { 'application/json': { schema: z.object({
        status: z.enum(['going', 'interested', 'notgoing']),
        role: roleName.optional().openapi({ description: 'on an event with roles: which one (default: the one held, else the first); another one moves the registration' }),
        notes: text(2000).nullable().optional(),
        specialRequirements: text(2000).nullable().optional(),
      }).strict() } } },
    },
    responses: { 200: { ...answer, description: 'the caller\'s attendance' }, ...errorResponses },
  }), async (c) => {
    const { status, ...registration } = c.req.valid('json');
    return c.json(await respond(c.req.valid('param').slug, c.get('auth'), status, { registration, hideDraft: true }), 200);
  });

  app.openapi(createRoute({
    method: 'delete', path: '/v1/events/{slug}/attendees/me', tags: ['attendees'], security: [{ bearer: [] }],
    summary: 'cancel the caller\'s RSVP; the first waitlisted person is promoted',
    request: { params: Slug },
    responses: { 200: { ...answer, description: 'cancelled' }, ...errorResponses },
  }), async (c) => {
    return c.json(await respond(c.req.valid('param').slug, c.get('auth'), 'notgoing', { hideDraft: false }), 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/v1/events/{slug}/attendees', tags: ['attendees'], security: [{ bearer: [] }],
    summary: 'attendees: confirmed, then the waitlist in order, then maybe; a page at a time (nextCursor)',
    request: {
      params: Slug,
      query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100), cursor: cursor.optional() }),
    },
    responses: {
      200: { content: { 'application/json': { schema: z.object({ items: z.array(Attendee), nextCursor: z.string().nullable() }) } }, description: 'attendees' },
      ...errorResponses,
    },
  }), async (c) => {
    const event = await findVisibleEvent(ds, c.req.valid('param').slug, c.get('auth'));
    const manager = await isManager(ds, c.get('auth'), event);
    const { limit, cursor } = c.req.valid('query');
    const after = cursor ? readKey(cursor, ['int', PG_TIMESTAMP, /^\d{1,19}$/]) : null;
    const rows = await attendeesPage(ds, event.id, after as [number, string, string] | null, limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json({
      items: page.map((r) => ({
        user: { slug: r.slug, displayName: r.display_name }, status: r.status, role: r.registration_role,
        ...(r.pos ? { waitlistPosition: r.pos } : {}),
        ...(manager || r.user_id === c.get('auth').sub ? { notes: r.notes, specialRequirements: r.special_requirements } : {}),
        since: r.since.toISOString(),
      })),
      nextCursor: rows.length > limit && last ? writeKey([last.rank, last.w, String(last.id)]) : null,
    }, 200);
  });

  return app;
}

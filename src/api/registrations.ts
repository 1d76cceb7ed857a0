import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { EntityManager } from 'typeorm';
import { notFound } from '../domain/errors.ts';
import { declareRoles } from '../domain/event-roles.ts';
import { moveToRole, rsvp, type RsvpResult } from '../domain/rsvp.ts';
import { recordFollowUps, type Recorded } from '../follow-ups/outbox.ts';
import { afterRolesChanged, afterRsvp } from '../follow-ups/rules.ts';
import { requireManager } from './access.ts';
import type { Auth, AuthEnv } from './auth.ts';
import type { RouteDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { findVisibleEvent } from './access.ts';
import { rsvpAnswer, toEventJsons } from './answers.ts';
import { EventSchema, RsvpAnswer } from './schemas.ts';
import { roleName, slug } from './fields.ts';
import { recordOccurrenceChange } from '../db/series.ts';
import { userBySlug } from '../db/users.ts';

const PersonParam = z.object({ slug, user: slug.openapi({ description: 'the person\'s user slug' }) });

/**
 * What an event's managers do with registrations: declare the roles people register in, move a
 * person to another role, remove a person. Every change takes the event's lock (src/domain/rsvp.ts)
 * and records its follow-ups (a freed seat's waitlist, the chat room) in the same transaction.
 */
export function registrationsRoutes({ ds, config, followUps }: RouteDeps) {
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });

  async function managed(eventSlug: string, auth: Auth) {
    const event = await findVisibleEvent(ds, eventSlug, auth);
    await requireManager(ds, auth, event);
    return event;
  }
  const userId = async (userSlug: string) => {
    const u = await userBySlug(ds, userSlug);
    if (!u) throw notFound('user', userSlug);
    return u.id;
  };
  /** A change to someone's registration made by a manager: no record is written in that person's repo. */
  async function answer(eventSlug: string, change: (record: (m: EntityManager, r: RsvpResult) => Promise<void>) => Promise<RsvpResult>) {
    let recorded: Recorded[] = [];
    const r = await change(async (m, result) => { recorded = await recordFollowUps(m, await afterRsvp(m, config, eventSlug, result)); });
    return rsvpAnswer(r, await followUps.deliver(recorded));
  }

  app.openapi(createRoute({
    method: 'put', path: '/v1/events/{slug}/roles', tags: ['attendees'], security: [{ bearer: [] }],
    summary: 'declare the roles people register in, each with its capacity and waitlist (managers); [] goes back to one capacity',
    request: {
      params: z.object({ slug }),
      body: { required: true, content: { 'application/json': { schema: z.object({
        roles: z.array(z.object({ name: roleName, capacity: z.number().int().min(0).max(1_000_000).nullable() }).strict()).max(20),
      }).strict() } } },
    },
    responses: { 200: { content: { 'application/json': { schema: EventSchema } }, description: 'the event with its roles' }, ...errorResponses },
  }), async (c) => {
    const event = await managed(c.req.valid('param').slug, c.get('auth'));
    const { roles } = c.req.valid('json');
    const recorded = await ds.transaction(async (m) => {
      const { seatsMayBeFree } = await declareRoles(m, event.slug, roles);
      // An occurrence's own roles make it an exception; a template's reach its occurrences.
      const isTemplate = event.seriesSlug !== null && await recordOccurrenceChange(m, event, { roles });
      return recordFollowUps(m, afterRolesChanged(event, { seatsMayBeFree, isTemplate }));
    });
    const operations = await followUps.deliver(recorded);
    const [json] = await toEventJsons(ds, [await findVisibleEvent(ds, event.slug, c.get('auth'))]);
    return c.json({ ...json, operations }, 200);
  });

  app.openapi(createRoute({
    method: 'put', path: '/v1/events/{slug}/attendees/{user}', tags: ['attendees'], security: [{ bearer: [] }],
    summary: 'move a person to another role (managers): into a free seat only when they hold one (409 `role_full`); their old role\'s waitlist moves up',
    request: { params: PersonParam, body: { required: true, content: { 'application/json': { schema: z.object({ role: roleName }).strict() } } } },
    responses: { 200: { content: { 'application/json': { schema: RsvpAnswer } }, description: 'the registration' }, ...errorResponses },
  }), async (c) => {
    const event = await managed(c.req.valid('param').slug, c.get('auth'));
    const person = await userId(c.req.valid('param').user);
    return c.json(await answer(event.slug, (record) => moveToRole(ds, event.slug, person, c.req.valid('json').role, record)), 200);
  });

  app.openapi(createRoute({
    method: 'delete', path: '/v1/events/{slug}/attendees/{user}', tags: ['attendees'], security: [{ bearer: [] }],
    summary: 'remove a person\'s registration (managers); the first waitlisted person of their role is promoted',
    request: { params: PersonParam },
    responses: { 200: { content: { 'application/json': { schema: RsvpAnswer } }, description: 'cancelled' }, ...errorResponses },
  }), async (c) => {
    const event = await managed(c.req.valid('param').slug, c.get('auth'));
    const person = await userId(c.req.valid('param').user);
    return c.json(await answer(event.slug, (record) => rsvp(ds, event.slug, person, 'notgoing', record)), 200);
  });

  return app;
}

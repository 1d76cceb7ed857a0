import { OpenAPIHono } from '@hono/zod-openapi';
import { adminRoutes } from './admin.ts';
import { attendeesRoutes } from './attendees.ts';
import { blueskyAuthRoutes } from './bluesky-auth.ts';
import { requireAuth, type AuthEnv } from './auth.ts';
import type { AppDeps, RouteDeps } from './deps.ts';
import { followUpRelay } from '../follow-ups/outbox.ts';
import { errorBody, onError } from './errors.ts';
import { limitBody, rateLimits, refuseControlCharacters } from './guards.ts';
import { eventsRoutes } from './events.ts';
import { groupsRoutes } from './groups.ts';
import { groupMembersRoutes } from './group-members.ts';
import { registrationsRoutes } from './registrations.ts';
import { healthRoutes } from './health.ts';
import { createMetrics } from './metrics.ts';
import { operationsRoutes } from './operations.ts';
import { seriesRoutes } from './series.ts';
import { occurrenceRoutes } from './series-occurrences.ts';
import { usersRoutes } from './users.ts';
import { integrationRoutes } from './integration.ts';
import { docsRoutes } from './docs.ts';
import { applyConventions, locationOnAccepted } from './conventions.ts';
import { requestIds } from './request-id.ts';
import { traceRequests } from '../tracing.ts';

/**
 * The methods routed for a path (middleware registered for all methods left out). A path with a
 * route of its own (`/members/me`) is that route's, not also a parameter's (`/members/:user`).
 */
function methodsFor(routes: { method: string; path: string }[], path: string): string[] {
  const matching = routes.filter((r) => r.method !== 'ALL' && new RegExp(`^${r.path.replace(/:[^/]+/g, '[^/]+')}$`).test(path));
  const literals = (p: string) => p.split('/').filter((s) => s && !s.startsWith(':')).length;
  const most = Math.max(...matching.map((r) => literals(r.path)));
  return [...new Set(matching.filter((r) => literals(r.path) === most).map((r) => r.method))];
}

/**
 * The HTTP API (validation, authorization, the rows a request owns, and workflow starts) and its
 * follow-up relay (the caller runs its loop: `followUps.start()`).
 */
export function createApp(services: AppDeps) {
  const app = new OpenAPIHono<AuthEnv>();
  const jwt = requireAuth(services.config);
  const metrics = createMetrics();
  const followUps = followUpRelay({ ...services, registry: metrics.registry });
  const deps: RouteDeps = { ...services, followUps };

  app.use('*', traceRequests);
  app.use('*', requestIds);
  app.use('*', metrics.middleware);
  app.use('*', limitBody(deps.config));
  app.use('*', refuseControlCharacters);
  app.use('/v1/*', rateLimits(deps.redis, deps.config));
  // Every Temporal call of a request has a deadline (a call that sets its own keeps that): a Temporal
  // that accepts and never answers held the request for good, one that refuses for ~18 s of retries.
  app.use('/v1/*', (c, next) => deps.temporal.connection.withDeadline(Date.now() + deps.config.TEMPORAL_REQUEST_TIMEOUT_MS, next));
  app.onError(onError);
  app.notFound((c) => {
    // A path that exists with other methods: 405 with `Allow`, not 404.
    const allowed = methodsFor(app.routes, c.req.path);
    if (allowed.length) return c.json(errorBody('method_not_allowed', `${c.req.method} is not allowed here`, { allow: allowed }), 405, { Allow: allowed.join(', ') });
    return c.json(errorBody('not_found', 'no such route'), 404);
  });

  app.route('/', healthRoutes(deps));
  app.get('/metrics', async (c) => c.text(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }));

  app.route('/', blueskyAuthRoutes(deps)); // before the JWT check: it is how a token is obtained
  app.use('/v1/*', async (c, next) => (c.req.path.startsWith('/v1/auth/') ? next() : jwt(c, next)));
  app.use('/v1/*', locationOnAccepted);
  for (const routes of [usersRoutes, groupsRoutes, groupMembersRoutes, eventsRoutes, seriesRoutes, occurrenceRoutes, attendeesRoutes, registrationsRoutes, operationsRoutes, adminRoutes, integrationRoutes]) {
    app.route('/', routes(deps));
  }

  applyConventions(app);
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  app.doc31('/openapi.json', { openapi: '3.1.0', info: { title: 'meetflow', version: '1' } });
  docsRoutes(app);
  return { app, followUps };
}

import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { ExternalEventSchema, ExternalRsvpSchema, type IngestOp } from '../domain/ingest.ts';
import { requestIngest } from '../temporal/signals.ts';
import { requireRole, type AuthEnv } from './auth.ts';
import type { AppDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { operationReader } from './operation-reader.ts';
import { OperationSchema } from './schemas.ts';

/**
 * Ingestion for other services (service role): the same `bsky-ingest:<AT-URI>` workflow the
 * firehose consumer feeds, so a record arriving both ways is applied once.
 */
export function integrationRoutes(deps: AppDeps) {
  const { temporal, config } = deps;
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  const operations = operationReader(deps);
  const accepted = { 202: { content: { 'application/json': { schema: OperationSchema } }, description: 'handed to bsky-ingest:<sourceId>' }, ...errorResponses };
  const ingest = async (uri: string, op: IngestOp) => operations.describe(await requestIngest(temporal, config, uri, op));

  app.openapi(createRoute({
    method: 'post', path: '/v1/integration/events', tags: ['integration'], security: [{ bearer: [] }],
    summary: 'ingest an external event; deduplicated by source id, then source URL, then the author\'s rkey',
    middleware: [requireRole('service')] as const,
    request: { body: { required: true, content: { 'application/json': { schema: ExternalEventSchema } } } },
    responses: accepted,
  }), async (c) => {
    const event = c.req.valid('json');
    return c.json(await ingest(event.sourceId, { kind: 'event', event }), 202);
  });

  app.openapi(createRoute({
    method: 'delete', path: '/v1/integration/events', tags: ['integration'], security: [{ bearer: [] }],
    summary: 'delete an ingested event (cascade deletion)',
    middleware: [requireRole('service')] as const,
    request: { query: z.object({ sourceType: z.literal('bluesky'), sourceId: ExternalRsvpSchema.shape.sourceId }) },
    responses: accepted,
  }), async (c) => {
    const { sourceId } = c.req.valid('query');
    return c.json(await ingest(sourceId, { kind: 'event-delete', sourceId }), 202);
  });

  app.openapi(createRoute({
    method: 'post', path: '/v1/integration/rsvps', tags: ['integration'], security: [{ bearer: [] }],
    summary: 'ingest an RSVP: interested→maybe, going→confirmed or waitlisted, notgoing→cancelled; parked until its event arrives',
    middleware: [requireRole('service')] as const,
    request: { body: { required: true, content: { 'application/json': { schema: ExternalRsvpSchema } } } },
    responses: accepted,
  }), async (c) => {
    const rsvp = c.req.valid('json');
    return c.json(await ingest(rsvp.sourceId, { kind: 'rsvp', rsvp }), 202);
  });

  return app;
}

import type { OpenAPIHono } from '@hono/zod-openapi';
import { createMiddleware } from 'hono/factory';
import type { AuthEnv } from './auth.ts';

/** A 202 answers an operation: `Location` says where to follow it (its `links.self`). */
export const locationOnAccepted = createMiddleware(async (c, next) => {
  await next();
  if (c.res.status !== 202 || !c.res.headers.get('content-type')?.includes('json')) return;
  const body = await c.res.clone().json().catch(() => null) as { links?: { self?: unknown } } | null;
  if (typeof body?.links?.self === 'string') c.header('Location', body.links.self);
});

const capital = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);

/** `get /v1/events/{slug}/attendees` → `getEventsBySlugAttendees`: stable, unique per method and path. */
export function operationName(method: string, path: string): string {
  const words = path.split('/').filter((p) => p && p !== 'v1').map((p) => p.startsWith('{') ? `By${capital(p.slice(1, -1))}` : p)
    .flatMap((p) => p.split(/[-_.]/)).map(capital);
  return method.toLowerCase() + words.join('');
}

/**
 * The document's conventions, applied to every route once they are all registered: an
 * `operationId` (for generated clients), and `Location` documented on every 202.
 */
export function applyConventions(app: OpenAPIHono<AuthEnv>): void {
  for (const def of app.openAPIRegistry.definitions) {
    if (def.type !== 'route') continue;
    const route = def.route;
    route.operationId ??= operationName(route.method, route.path);
    const accepted = route.responses[202];
    if (accepted && !('$ref' in accepted)) {
      accepted.headers = { Location: { description: 'the operation to follow (`/v1/operations/{id}`)', schema: { type: 'string' } } };
    }
  }
}

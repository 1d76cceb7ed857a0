import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { DomainError } from '../domain/errors.ts';
import { makeSlug } from '../domain/slug.ts';
import { newAgent } from '../activities/bluesky/sessions.ts';
import { mintToken } from './auth.ts';
import type { AppDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { UserSchema, toUserJson } from './users.ts';
import { UserEntity } from '../db/entities/user.ts';

/**
 * `POST /v1/auth/bluesky/app-password`: logs in at the configured service (BLUESKY_SERVICE),
 * stores the session for the worker, and links the user by DID: an existing user (a shadow account
 * is upgraded in place) or a new one. Answers a meetflow token. (Claiming into another account and
 * the user's sync are their own operations, issues #8 and #9.)
 */
export function blueskyAuthRoutes({ ds, redis, config }: AppDeps) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  app.openapi(createRoute({
    method: 'post', path: '/v1/auth/bluesky/app-password', tags: ['auth'],
    request: { body: { required: true, content: { 'application/json': { schema: z.object({
      identifier: z.string().min(1).max(253), password: z.string().min(1).max(200),
    }).strict() } } } },
    responses: {
      200: { content: { 'application/json': { schema: z.object({ token: z.string(), user: UserSchema, operations: z.array(z.object({ id: z.string(), type: z.string() })) }) } }, description: 'logged in' },
      ...errorResponses,
    },
  }), async (c) => {
    const { identifier, password } = c.req.valid('json');
    const agent = newAgent(config.BLUESKY_SERVICE, redis);
    try {
      await agent.login({ identifier, password });
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 401 || status === 400) throw new DomainError(401, 'unauthorized', 'Bluesky rejected these credentials');
      throw new DomainError(503, 'bluesky_unavailable', `Bluesky login failed: ${(err as Error).message}`);
    }
    const session = agent.session!;
    const pds = agent.pdsUrl?.toString() ?? config.BLUESKY_SERVICE;
    const [user] = await ds.query(
      `INSERT INTO users (slug, display_name, handle, did, pds_url, provider, bluesky_connected)
       VALUES ($1, $2, $2, $3, $4, 'bluesky', true)
       ON CONFLICT (did) DO UPDATE SET handle = EXCLUDED.handle, pds_url = EXCLUDED.pds_url, bluesky_connected = true,
              is_shadow_account = false, updated_at = now()
       RETURNING id`, [makeSlug(session.handle), session.handle, session.did, pds]);
    const row = await ds.getRepository(UserEntity).findOneByOrFail({ id: user.id });
    return c.json({ token: await mintToken(config.AUTH_JWT_SECRET, { sub: row.id }, 24 * 3600), user: toUserJson(row), operations: [] }, 200);
  });
  return app;
}

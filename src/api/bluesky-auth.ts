import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { Agent } from '@atproto/api';
import { OAuthCallbackError } from '@atproto/oauth-client-node';
import { DomainError } from '../domain/errors.ts';
import { makeSlug } from '../domain/slug.ts';
import { newAgent, sessionStore } from '../activities/bluesky/sessions.ts';
import { OAUTH_CALLBACK_PATH, OAUTH_METADATA_PATH, oauthClient, oauthClientMetadata } from '../activities/bluesky/oauth.ts';
import { mintToken } from './auth.ts';
import type { AppDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { UserSchema, toUserJson } from './users.ts';
import { UserEntity } from '../db/entities/user.ts';

const LoginAnswer = z.object({ token: z.string(), user: UserSchema, operations: z.array(z.object({ id: z.string(), type: z.string() })) }).openapi('BlueskyLogin');

/**
 * Bluesky login, with an app password or AT Protocol OAuth. Either stores the session for the
 * worker and links the user by DID: an existing user (a shadow account is upgraded in place) or
 * a new one; the answer is a meetflow token.
 */
export function blueskyAuthRoutes({ ds, redis, config }: AppDeps) {
  const app = new OpenAPIHono({ defaultHook: validationHook });

  async function linkUser(identity: { did: string; handle: string; pds: string }) {
    const [user] = await ds.query(
      `INSERT INTO users (slug, display_name, handle, did, pds_url, provider, bluesky_connected)
       VALUES ($1, $2, $2, $3, $4, 'bluesky', true)
       ON CONFLICT (did) DO UPDATE SET handle = EXCLUDED.handle, pds_url = EXCLUDED.pds_url, bluesky_connected = true,
              is_shadow_account = false, updated_at = now()
       RETURNING id`, [makeSlug(identity.handle), identity.handle, identity.did, identity.pds]);
    const row = await ds.getRepository(UserEntity).findOneByOrFail({ id: user.id });
    return { token: await mintToken(config.AUTH_JWT_SECRET, { sub: row.id }, 24 * 3600), user: toUserJson(row), operations: [] };
  }

  app.openapi(createRoute({
    method: 'post', path: '/v1/auth/bluesky/app-password', tags: ['auth'],
    request: { body: { required: true, content: { 'application/json': { schema: z.object({
      identifier: z.string().min(1).max(253), password: z.string().min(1).max(200),
    }).strict() } } } },
    responses: { 200: { content: { 'application/json': { schema: LoginAnswer } }, description: 'logged in' }, ...errorResponses },
  }), async (c) => {
    const { identifier, password } = c.req.valid('json');
    const agent = newAgent(config.BLUESKY_SERVICE, redis, config);
    try {
      await agent.login({ identifier, password });
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 401 || status === 400) throw new DomainError(401, 'unauthorized', 'Bluesky rejected these credentials');
      throw new DomainError(503, 'bluesky_unavailable', `Bluesky login failed: ${(err as Error).message}`);
    }
    const session = agent.session!;
    await sessionStore(redis, config).save(config.BLUESKY_SERVICE, session); // before answering: the worker needs it at once
    return c.json(await linkUser({ did: session.did, handle: session.handle, pds: agent.pdsUrl?.toString() ?? config.BLUESKY_SERVICE }), 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/v1/auth/bluesky/login', tags: ['auth'],
    summary: 'start an AT Protocol OAuth login: redirects to the user\'s authorization server',
    request: { query: z.object({ handle: z.string().min(1).max(253) }) },
    responses: { 302: { description: 'to the authorization server' }, ...errorResponses },
  }), async (c) => {
    const { handle } = c.req.valid('query');
    try {
      return c.redirect((await oauthClient(redis, config).authorize(handle, { scope: oauthClientMetadata(config).scope })).href, 302);
    } catch (err) {
      throw new DomainError(400, 'bluesky_handle_unresolved', `cannot start a Bluesky login for ${handle}: ${(err as Error).message}`);
    }
  });

  app.openapi(createRoute({
    method: 'get', path: OAUTH_CALLBACK_PATH, tags: ['auth'],
    summary: 'where the authorization server sends the user back; answers the meetflow token',
    request: { query: z.object({ code: z.string().optional(), state: z.string().optional(), iss: z.string().optional(), error: z.string().optional() }).passthrough() },
    responses: { 200: { content: { 'application/json': { schema: LoginAnswer } }, description: 'logged in' }, ...errorResponses },
  }), async (c) => {
    let session;
    try {
      ({ session } = await oauthClient(redis, config).callback(new URL(c.req.url).searchParams));
    } catch (err) {
      if (err instanceof OAuthCallbackError) throw new DomainError(401, 'unauthorized', `Bluesky login failed: ${err.message}`);
      throw new DomainError(503, 'bluesky_unavailable', `Bluesky login failed: ${(err as Error).message}`);
    }
    await sessionStore(redis, config).remove(session.did); // the OAuth session replaces an app-password one
    const { data } = await new Agent(session).com.atproto.repo.describeRepo({ repo: session.did });
    return c.json(await linkUser({ did: session.did, handle: data.handle, pds: (await session.getTokenInfo()).aud }), 200);
  });

  app.get(OAUTH_METADATA_PATH, (c) => c.json(oauthClientMetadata(config)));
  return app;
}

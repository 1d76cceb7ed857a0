import { randomBytes, timingSafeEqual } from 'node:crypto';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { Agent } from '@atproto/api';
import { OAuthCallbackError } from '@atproto/oauth-client-node';
import { DomainError } from '../domain/errors.ts';
import { newAgent, sessionStore } from '../bluesky/sessions.ts';
import { OAUTH_CALLBACK_PATH, OAUTH_METADATA_PATH, oauthClient, oauthClientMetadata } from '../bluesky/oauth.ts';
import type { AppDeps, RouteApp } from './deps.ts';
import type { AuthEnv } from './auth.ts';
import { blueskyLogin } from './bluesky-login.ts';
import { errorResponses, validationHook } from './errors.ts';
import { UserSchema } from './schemas.ts';

/** What meetflow keeps in the OAuth state (server-side): the browser's nonce and the signed-in caller. */
interface OAuthAppState { nonce?: string; callerId?: string | null }
const NONCE_COOKIE = 'meetflow_oauth_nonce';
const safeEqual = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

const LoginAnswer = z.object({ token: z.string(), user: UserSchema, operations: z.array(z.object({ id: z.string(), type: z.string() })) }).openapi('BlueskyLogin');

/**
 * Bluesky login, with an app password or AT Protocol OAuth. Either stores the session for the
 * worker and links the user by DID: an existing user (a shadow account is upgraded in place) or
 * a new one; the answer is a meetflow token. A signed-in caller links Bluesky to their own
 * account; if a shadow account holds the DID, `claim-account:<did>` merges it into theirs and the
 * answer carries that operation (the claim starts the sync when it is done); otherwise the
 * answer carries the user's sync, `bsky-sync:<did>`.
 */
type Ctx = AppDeps & { login: ReturnType<typeof blueskyLogin> };

export function blueskyAuthRoutes(deps: AppDeps) {
  const app: RouteApp = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  const ctx: Ctx = { ...deps, login: blueskyLogin(deps) };
  app.get(OAUTH_METADATA_PATH, (c) => c.json(oauthClientMetadata(deps.config)));
  for (const route of [appPasswordLogin, oauthLogin, oauthCallback]) route(app, ctx);
  return app;
}

function appPasswordLogin(app: RouteApp, ctx: Ctx): void {
  const { redis, config, login } = ctx;
  app.openapi(createRoute({
    method: 'post', path: '/v1/auth/bluesky/app-password', tags: ['auth'],
    request: { body: { required: true, content: { 'application/json': { schema: z.object({
      identifier: z.string().min(1).max(253), password: z.string().min(1).max(200),
    }).strict() } } } },
    responses: { 200: { content: { 'application/json': { schema: LoginAnswer } }, description: 'logged in' }, ...errorResponses },
  }), async (c) => {
    const { identifier, password } = c.req.valid('json');
    const callerId = await login.caller(c.req.header('Authorization'));
    const agent = newAgent(config.BLUESKY_SERVICE, redis, config);
    try {
      await agent.login({ identifier, password });
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 401 || status === 400) throw new DomainError('unauthorized', 'Bluesky rejected these credentials');
      throw new DomainError('bluesky_unavailable', `Bluesky login failed: ${(err as Error).message}`);
    }
    const session = agent.session!;
    await sessionStore(redis, config).save(config.BLUESKY_SERVICE, session); // before answering: the worker needs it at once
    return c.json(await login.linkUser({ did: session.did, handle: session.handle, pds: agent.pdsUrl?.toString() ?? config.BLUESKY_SERVICE }, callerId), 200);
  });
}

function oauthLogin(app: RouteApp, ctx: Ctx): void {
  const { redis, config, login } = ctx;
  app.openapi(createRoute({
    method: 'get', path: '/v1/auth/bluesky/login', tags: ['auth'],
    summary: 'start an AT Protocol OAuth login: redirects to the user\'s authorization server',
    request: { query: z.object({ handle: z.string().min(1).max(253) }) },
    responses: { 302: { description: 'to the authorization server' }, ...errorResponses },
  }), async (c) => {
    const { handle } = c.req.valid('query');
    const callerId = await login.caller(c.req.header('Authorization'));
    // The flow is bound to this browser: a nonce in an HttpOnly cookie, and the same nonce (with
    // the caller) kept server-side in the OAuth state. A callback from another browser (a victim
    // lured into approving an attacker's authorization) has no matching cookie and is refused.
    const nonce = randomBytes(18).toString('base64url');
    let url: URL;
    try {
      url = await oauthClient(redis, config).authorize(handle, {
        scope: oauthClientMetadata(config).scope, state: JSON.stringify({ nonce, callerId } satisfies OAuthAppState),
      });
    } catch (err) {
      throw new DomainError('bluesky_handle_unresolved', `cannot start a Bluesky login for ${handle}: ${(err as Error).message}`);
    }
    setCookie(c, NONCE_COOKIE, nonce, {
      httpOnly: true, secure: config.PUBLIC_BASE_URL.startsWith('https:'), sameSite: 'Lax', path: '/v1/auth/bluesky', maxAge: 3600,
    });
    return c.redirect(url.href, 302);
  });
}

function oauthCallback(app: RouteApp, ctx: Ctx): void {
  const { redis, config, login } = ctx;
  app.openapi(createRoute({
    method: 'get', path: OAUTH_CALLBACK_PATH, tags: ['auth'],
    summary: 'where the authorization server sends the user back; answers the meetflow token',
    request: { query: z.object({ code: z.string().optional(), state: z.string().optional(), iss: z.string().optional(), error: z.string().optional() }).passthrough() },
    responses: { 200: { content: { 'application/json': { schema: LoginAnswer } }, description: 'logged in' }, ...errorResponses },
  }), async (c) => {
    let session;
    let appState: OAuthAppState;
    try {
      const done = await oauthClient(redis, config).callback(new URL(c.req.url).searchParams);
      session = done.session;
      appState = JSON.parse(done.state ?? '{}');
    } catch (err) {
      if (err instanceof OAuthCallbackError) throw new DomainError('unauthorized', `Bluesky login failed: ${err.message}`);
      throw new DomainError('bluesky_unavailable', `Bluesky login failed: ${(err as Error).message}`);
    }
    const cookie = getCookie(c, NONCE_COOKIE);
    deleteCookie(c, NONCE_COOKIE, { path: '/v1/auth/bluesky' });
    if (!cookie || !appState.nonce || !safeEqual(cookie, appState.nonce)) {
      await session.signOut().catch(() => undefined); // this browser did not start it: the session is not kept
      throw new DomainError('oauth_browser_mismatch', 'this login was not started in this browser');
    }
    const callerId = appState.callerId ?? null;
    await sessionStore(redis, config).remove(session.did); // the OAuth session replaces an app-password one
    const { data } = await new Agent(session).com.atproto.repo.describeRepo({ repo: session.did });
    return c.json(await login.linkUser({ did: session.did, handle: data.handle, pds: (await session.getTokenInfo()).aud }, callerId), 200);
  });
}

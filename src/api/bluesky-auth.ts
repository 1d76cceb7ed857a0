import { randomBytes, timingSafeEqual } from 'node:crypto';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { Agent } from '@atproto/api';
import { OAuthCallbackError } from '@atproto/oauth-client-node';
import { DomainError } from '../domain/errors.ts';
import { makeSlug } from '../domain/slug.ts';
import { newAgent, sessionStore } from '../bluesky/sessions.ts';
import { OAUTH_CALLBACK_PATH, OAUTH_METADATA_PATH, oauthClient, oauthClientMetadata } from '../bluesky/oauth.ts';
import { readProfile } from '../bluesky/profile.ts';
import { mintToken, readAuth } from './auth.ts';
import { requireUser } from './access.ts';
import { operationReader } from './operations.ts';
import { requestSync } from '../temporal/signals.ts';
import type { AppDeps } from './deps.ts';
import { errorResponses, validationHook } from './errors.ts';
import { toUserJson } from './answers.ts';
import { UserSchema } from './schemas.ts';
import { applyProfile, linkBluesky, markClaimed, upsertBlueskyUser, userByDid, userById } from '../db/users.ts';

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
export function blueskyAuthRoutes({ ds, redis, temporal, config }: AppDeps) {
  const app = new OpenAPIHono({ defaultHook: validationHook });

  const operations = operationReader({ ds, temporal, config });
  const answer = async (userId: string, ops: { id: string; type: string }[] = []) => {
    const row = (await userById(ds, userId))!;
    return { token: await mintToken(config, { sub: row.id }, 24 * 3600), user: toUserJson(row), operations: ops };
  };

  async function linkUser(identity: { did: string; handle: string; pds: string }, callerId: string | null) {
    const holder = await userByDid(ds, identity.did);
    if (holder?.isShadowAccount && (callerId || holder.claimedBy)) {
      // A shadow account becomes the caller's (or is being claimed right now: that claim is the answer).
      const claimant = (callerId ?? holder.claimedBy)!;
      if (!await markClaimed(ds, holder.id, claimant)) throw new DomainError('claim_in_progress', `another account is claiming ${identity.did}`);
      const op = await operations.start('claim-account', identity.did,
        { did: identity.did, shadowId: holder.id, userId: claimant, handle: identity.handle, pdsUrl: identity.pds }, claimant);
      return answer(claimant, [{ id: op.id, type: op.type }]);
    }
    if (callerId && holder && holder.id !== callerId) {
      throw new DomainError('bluesky_account_linked', `${identity.handle} is linked to another meetflow account`);
    }
    const sync = async () => [{ id: await requestSync(temporal, config, identity.did), type: 'bsky-sync' }];
    if (callerId) {
      await linkBluesky(ds, callerId, identity);
      await refreshProfile(callerId, identity);
      return answer(callerId, await sync());
    }
    const userId = await upsertBlueskyUser(ds, { slug: makeSlug(identity.handle), handle: identity.handle, did: identity.did, pdsUrl: identity.pds });
    await refreshProfile(userId, identity);
    return answer(userId, await sync());
  }

  /** The Bluesky profile's name and avatar, at every login (applyProfile says which wins). */
  async function refreshProfile(userId: string, identity: { did: string; pds: string }) {
    const profile = await readProfile(identity.pds, identity.did);
    if (profile) await applyProfile(ds, userId, profile);
  }

  /** A signed-in caller (optional on the login routes): must be a known user. */
  async function caller(header: string | undefined): Promise<string | null> {
    const auth = await readAuth(header, config);
    return auth ? (await requireUser(ds, auth)).id : null;
  }

  app.openapi(createRoute({
    method: 'post', path: '/v1/auth/bluesky/app-password', tags: ['auth'],
    request: { body: { required: true, content: { 'application/json': { schema: z.object({
      identifier: z.string().min(1).max(253), password: z.string().min(1).max(200),
    }).strict() } } } },
    responses: { 200: { content: { 'application/json': { schema: LoginAnswer } }, description: 'logged in' }, ...errorResponses },
  }), async (c) => {
    const { identifier, password } = c.req.valid('json');
    const callerId = await caller(c.req.header('Authorization'));
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
    return c.json(await linkUser({ did: session.did, handle: session.handle, pds: agent.pdsUrl?.toString() ?? config.BLUESKY_SERVICE }, callerId), 200);
  });

  app.openapi(createRoute({
    method: 'get', path: '/v1/auth/bluesky/login', tags: ['auth'],
    summary: 'start an AT Protocol OAuth login: redirects to the user\'s authorization server',
    request: { query: z.object({ handle: z.string().min(1).max(253) }) },
    responses: { 302: { description: 'to the authorization server' }, ...errorResponses },
  }), async (c) => {
    const { handle } = c.req.valid('query');
    const callerId = await caller(c.req.header('Authorization'));
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
    return c.json(await linkUser({ did: session.did, handle: data.handle, pds: (await session.getTokenInfo()).aud }, callerId), 200);
  });

  app.get(OAUTH_METADATA_PATH, (c) => c.json(oauthClientMetadata(config)));
  return app;
}

import { createMiddleware } from 'hono/factory';
import { sign, verify } from 'hono/jwt';
import type { Config } from '../config.ts';
import { DomainError } from '../domain/errors.ts';

export type Role = 'admin' | 'service';
export interface Auth { sub: string; role?: Role }
export type AuthEnv = { Variables: { auth: Auth } };
/** What signs and checks tokens. */
export type TokenConfig = Pick<Config, 'AUTH_JWT_SECRET' | 'AUTH_JWT_ISSUER' | 'AUTH_JWT_AUDIENCE' | 'AUTH_TOKEN_MAX_TTL_SECONDS'>;

const invalid = (why: string) => new DomainError('unauthorized', why);

/**
 * The caller of `Authorization: Bearer <JWT>`, or null without one. HS256; `sub` is the user id,
 * `role` optional. The token must expire (`exp`, at most AUTH_TOKEN_MAX_TTL_SECONDS ahead) and,
 * when configured, name meetflow's issuer and audience.
 */
export async function readAuth(header: string | undefined, tc: TokenConfig): Promise<Auth | null> {
  const token = header?.startsWith('Bearer ') ? header.slice(7) : null;
  if (!token) return null;
  const known = accepted.get(tc)?.get(token);
  if (known && known.exp > Date.now() / 1000) return known.auth;
  return remember(tc, token, await checkToken(token, tc));
}

/**
 * Tokens accepted before, by their text, per token configuration: a client sends the same token
 * with every request, and checking its signature is an asynchronous WebCrypto job (8% of the
 * API's CPU under bench/rsvp-throughput.ts). One stays accepted until its `exp`, checked on every
 * use; a full cache drops its oldest entry. Only tokens that passed every check are kept.
 */
const ACCEPTED_MAX = 10_000;
const accepted = new WeakMap<TokenConfig, Map<string, { exp: number; auth: Auth }>>();

function remember(tc: TokenConfig, token: string, { exp, ...auth }: Auth & { exp: number }): Auth {
  let tokens = accepted.get(tc);
  if (!tokens) accepted.set(tc, tokens = new Map());
  if (tokens.size >= ACCEPTED_MAX) tokens.delete(tokens.keys().next().value!);
  tokens.set(token, { exp, auth: Object.freeze(auth) }); // shared by every request that sends it
  return auth;
}

async function checkToken(token: string, tc: TokenConfig): Promise<Auth & { exp: number }> {
  let payload: Record<string, unknown>;
  try {
    payload = await verify(token, tc.AUTH_JWT_SECRET, 'HS256');
  } catch {
    throw invalid('invalid or expired token');
  }
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.exp !== 'number') throw invalid('token has no expiry (exp)');
  if (payload.exp - now > tc.AUTH_TOKEN_MAX_TTL_SECONDS) throw invalid('token expires too far in the future');
  if (tc.AUTH_JWT_ISSUER && payload.iss !== tc.AUTH_JWT_ISSUER) throw invalid('token issuer is not accepted');
  if (tc.AUTH_JWT_AUDIENCE) {
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!aud.includes(tc.AUTH_JWT_AUDIENCE)) throw invalid('token audience is not meetflow');
  }
  if (typeof payload.sub !== 'string' || !payload.sub) throw invalid('token has no subject');
  const role = payload.role === 'admin' || payload.role === 'service' ? payload.role : undefined;
  return { sub: payload.sub, role, exp: payload.exp };
}

export function requireAuth(tc: TokenConfig) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const auth = await readAuth(c.req.header('Authorization'), tc);
    if (!auth) throw invalid('missing bearer token');
    c.set('auth', auth);
    await next();
  });
}

export function requireRole(...roles: Role[]) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const { role } = c.get('auth');
    if (!role || !roles.includes(role)) throw new DomainError('forbidden', `requires role ${roles.join(' or ')}`);
    await next();
  });
}

/** A token meetflow accepts: always with `exp`, and `iss`/`aud` when configured. */
export function mintToken(tc: TokenConfig, claims: Auth, ttlSeconds = 3600): Promise<string> {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > tc.AUTH_TOKEN_MAX_TTL_SECONDS) {
    throw new Error(`token lifetime must be 1..${tc.AUTH_TOKEN_MAX_TTL_SECONDS} seconds`);
  }
  const now = Math.floor(Date.now() / 1000);
  return sign({
    ...claims, iat: now, exp: now + ttlSeconds,
    ...(tc.AUTH_JWT_ISSUER ? { iss: tc.AUTH_JWT_ISSUER } : {}), ...(tc.AUTH_JWT_AUDIENCE ? { aud: tc.AUTH_JWT_AUDIENCE } : {}),
  }, tc.AUTH_JWT_SECRET, 'HS256');
}

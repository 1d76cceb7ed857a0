import { createMiddleware } from 'hono/factory';
import { sign, verify } from 'hono/jwt';
import { DomainError } from '../domain/errors.ts';

export type Role = 'admin' | 'service';
export interface Auth { sub: string; role?: Role }
export type AuthEnv = { Variables: { auth: Auth } };

/** The caller of `Authorization: Bearer <JWT>` (HS256; `sub` is the user id, `role` optional), or null without one. */
export async function readAuth(header: string | undefined, secret: string): Promise<Auth | null> {
  const token = header?.startsWith('Bearer ') ? header.slice(7) : null;
  if (!token) return null;
  let payload: Record<string, unknown>;
  try {
    payload = await verify(token, secret, 'HS256');
  } catch {
    throw new DomainError(401, 'unauthorized', 'invalid or expired token');
  }
  if (typeof payload.sub !== 'string' || !payload.sub) throw new DomainError(401, 'unauthorized', 'token has no subject');
  const role = payload.role === 'admin' || payload.role === 'service' ? payload.role : undefined;
  return { sub: payload.sub, role };
}

export function requireAuth(secret: string) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const auth = await readAuth(c.req.header('Authorization'), secret);
    if (!auth) throw new DomainError(401, 'unauthorized', 'missing bearer token');
    c.set('auth', auth);
    await next();
  });
}

export function requireRole(...roles: Role[]) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const { role } = c.get('auth');
    if (!role || !roles.includes(role)) throw new DomainError(403, 'forbidden', `requires role ${roles.join(' or ')}`);
    await next();
  });
}

export function mintToken(secret: string, claims: Auth, ttlSeconds = 3600): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return sign({ ...claims, iat: now, exp: now + ttlSeconds }, secret, 'HS256');
}

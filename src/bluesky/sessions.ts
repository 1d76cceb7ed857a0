import { Agent, AtpAgent, type AtpSessionData } from '@atproto/api';
import { TokenInvalidError, TokenRefreshError, TokenRevokedError } from '@atproto/oauth-client-node';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { Config } from '../config.ts';
import { oauthClient, oauthSessionStore } from './oauth.ts';
import { pdsFetch } from './pds-fetch.ts';
import { sealedStore } from './sealed-store.ts';
import { disconnectBluesky } from '../db/users.ts';
import { log } from '../logger.ts';

/**
 * A user's Bluesky session, one per DID, in Redis (shared by API and worker, encrypted): an app
 * password session, or an OAuth session kept by the OAuth client. A new login of either kind
 * replaces the other. No locks: every write for one record runs inside its own workflow.
 */
interface Stored { service: string; session: AtpSessionData }

export function sessionStore(redis: Redis, config: Config) {
  const store = sealedStore<Stored>(redis, config.SESSION_ENCRYPTION_KEYS, 'bsky:session:');
  return {
    /** An app-password login: the newest tokens win, and an OAuth session of the DID is dropped. */
    async save(service: string, session: AtpSessionData): Promise<void> {
      await store.set(session.did, { service, session });
      await oauthSessionStore(redis, config).del(session.did);
    },
    load: (did: string) => store.get(did),
    remove: (did: string) => store.del(did),
  };
}

/**
 * An app-password agent that saves every refreshed session, so another process resumes with the
 * newest tokens. (A login saves its new session itself, awaited, before it answers.)
 */
export function newAgent(service: string, redis: Redis, config: Config): AtpAgent {
  const store = sessionStore(redis, config);
  return new AtpAgent({
    service, fetch: pdsFetch,
    persistSession: (evt, session) => {
      // The hook cannot wait; a failed save (Redis away) is said, and the next refresh saves again.
      if (session && evt === 'update') store.save(service, session).catch((err: Error) => log.warn({ did: session.did, reason: err.message }, 'Bluesky session not saved'));
    },
  });
}

/** Resumed app-password agents of this process, by DID: reused while the stored session is the one they hold. */
const resumed = new Map<string, { accessJwt: string; agent: AtpAgent }>();

const isRevocation = (err: unknown) =>
  err instanceof TokenRevokedError || err instanceof TokenInvalidError || err instanceof TokenRefreshError
  || [400, 401].includes((err as { status?: number }).status ?? 0);

/** What agentFor throws for a session that cannot be restored: no retry can act as this user. */
export class SessionRevokedError extends Error {
  constructor(did: string, why: string) { super(`Bluesky session of ${did}: ${why}`); this.name = 'SessionRevokedError'; }
}

/**
 * An agent acting as `did`, from its stored session. A session that is missing or cannot be
 * resumed (revoked, expired) marks the user's Bluesky connection as disconnected and fails with
 * `SessionRevokedError`; a PDS that cannot be reached is retried.
 */
export async function agentFor(did: string, deps: { redis: Redis; ds: DataSource; config: Config }): Promise<Agent> {
  const revoked = async (why: string) => {
    await disconnectBluesky(deps.ds, { did });
    return new SessionRevokedError(did, why);
  };
  try {
    const stored = await sessionStore(deps.redis, deps.config).load(did);
    if (stored) {
      const cached = resumed.get(did);
      if (cached?.accessJwt === stored.session.accessJwt && cached.agent.session?.accessJwt === stored.session.accessJwt) return cached.agent;
      const agent = newAgent(stored.service, deps.redis, deps.config);
      await agent.resumeSession(stored.session); // a call to the PDS: checks the session
      resumed.set(did, { accessJwt: agent.session!.accessJwt, agent });
      return agent;
    }
    if (await oauthSessionStore(deps.redis, deps.config).get(did)) {
      return new Agent(await oauthClient(deps.redis, deps.config).restore(did));
    }
  } catch (err) {
    if (isRevocation(err)) throw await revoked((err as Error).message);
    throw err;
  }
  throw await revoked('no session stored');
}

const REVOKE_TIMEOUT_MS = 5000;

/**
 * Forgets the DID's stored session (app password or OAuth) after asking its PDS or authorization
 * server to revoke it. A server that refuses, fails or takes longer than REVOKE_TIMEOUT_MS does
 * not keep the session here: it is forgotten either way, and `revoked` says whether the server
 * confirmed. Redis being away fails the call (the caller retries).
 */
export async function forgetSession(did: string, deps: { redis: Redis; config: Config }): Promise<{ revoked: boolean }> {
  const bounded = (p: Promise<unknown>) => Promise.race([
    p.then(() => true, () => false),
    new Promise<boolean>((ok) => setTimeout(ok, REVOKE_TIMEOUT_MS, false).unref()),
  ]);
  const store = sessionStore(deps.redis, deps.config);
  const stored = await store.load(did);
  let revoked = false;
  if (stored) {
    const agent = new AtpAgent({ service: stored.service, fetch: pdsFetch });
    revoked = await bounded(agent.com.atproto.server.deleteSession(undefined, { headers: { authorization: `Bearer ${stored.session.refreshJwt}` } }));
    await store.remove(did);
  }
  const oauthStore = oauthSessionStore(deps.redis, deps.config);
  if (await oauthStore.get(did)) {
    revoked = (await bounded(oauthClient(deps.redis, deps.config).revoke(did))) || revoked;
    await oauthStore.del(did);
  }
  resumed.delete(did);
  return { revoked };
}

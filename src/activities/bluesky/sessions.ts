import { AtpAgent, type AtpSessionData } from '@atproto/api';
import { ApplicationFailure } from '@temporalio/common';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';

/**
 * App-password sessions, one per DID, in Redis (shared by API and worker). No locks: every
 * write for one event runs inside its own `bsky-publish:<slug>` workflow. A refreshed session is
 * saved on every update, so another process resumes with the newest tokens.
 */
const key = (did: string) => `bsky:session:${did}`;

interface Stored { service: string; session: AtpSessionData }

export function sessionStore(redis: Redis) {
  return {
    async save(service: string, session: AtpSessionData): Promise<void> {
      await redis.set(key(session.did), JSON.stringify({ service, session } satisfies Stored));
    },
    async load(did: string): Promise<Stored | null> {
      const raw = await redis.get(key(did));
      return raw ? JSON.parse(raw) : null;
    },
    async remove(did: string): Promise<void> {
      await redis.del(key(did));
    },
  };
}

export function newAgent(service: string, redis: Redis): AtpAgent {
  const store = sessionStore(redis);
  return new AtpAgent({
    service,
    persistSession: (evt, session) => {
      if (session && (evt === 'create' || evt === 'update')) void store.save(service, session);
    },
  });
}

/**
 * An agent acting as `did`, from its stored session. A session that is missing or cannot be
 * resumed (revoked, expired) marks the user's Bluesky connection as disconnected and fails with
 * the non-retryable `BlueskySessionRevoked`.
 */
export async function agentFor(did: string, deps: { redis: Redis; ds: DataSource }): Promise<AtpAgent> {
  const stored = await sessionStore(deps.redis).load(did);
  const revoked = async (why: string) => {
    await deps.ds.query(`UPDATE users SET bluesky_connected = false, updated_at = now() WHERE did = $1`, [did]);
    return ApplicationFailure.create({ type: 'BlueskySessionRevoked', message: `Bluesky session of ${did}: ${why}`, nonRetryable: true });
  };
  if (!stored) throw await revoked('no session stored');
  const agent = newAgent(stored.service, deps.redis);
  try {
    await agent.resumeSession(stored.session);
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status === 400 || status === 401) throw await revoked((err as Error).message);
    throw err; // PDS unreachable or failing: retried
  }
  return agent;
}

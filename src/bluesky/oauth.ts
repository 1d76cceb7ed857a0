import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildAtprotoLoopbackClientMetadata, NodeOAuthClient, type NodeSavedSession, type NodeSavedState, type RuntimeLock,
} from '@atproto/oauth-client-node';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { sealedStore } from './sealed-store.ts';

/** Only what meetflow writes: its two record collections. */
export const OAUTH_SCOPE = 'atproto repo:community.lexicon.calendar.event repo:community.lexicon.calendar.rsvp';
export const OAUTH_CALLBACK_PATH = '/v1/auth/bluesky/callback';
export const OAUTH_METADATA_PATH = '/oauth-client-metadata.json';

const LOCK_TTL_MS = 10_000;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * The lock the OAuth client takes around a token refresh, shared by API and worker processes:
 * two processes refreshing at once would replay the refresh token and the PDS would end the
 * session. It waits (never fails fast); the expiry only frees a lock whose holder died.
 */
export function redisRequestLock(redis: Redis): RuntimeLock {
  return async (name, fn) => {
    const key = `bsky:lock:${name}`;
    const token = randomUUID();
    while ((await redis.set(key, token, 'PX', LOCK_TTL_MS, 'NX')) !== 'OK') await sleep(25 + Math.random() * 50);
    try {
      return await fn();
    } finally {
      await redis.eval(RELEASE, 1, key, token);
    }
  };
}

const isLoopback = (url: string) => ['localhost', '127.0.0.1', '[::1]'].includes(new URL(url).hostname);

/**
 * meetflow's client metadata: a loopback client while PUBLIC_BASE_URL is local (development,
 * tests), otherwise a public web client whose metadata document meetflow serves itself.
 */
export function oauthClientMetadata(config: Config) {
  const base = config.PUBLIC_BASE_URL.replace(/\/$/, '');
  if (isLoopback(base)) {
    const redirect = new URL(OAUTH_CALLBACK_PATH, base);
    redirect.hostname = '127.0.0.1'; // loopback redirect URIs must use the IP
    return buildAtprotoLoopbackClientMetadata({ scope: OAUTH_SCOPE, redirect_uris: [redirect.href] });
  }
  return {
    client_id: `${base}${OAUTH_METADATA_PATH}`,
    client_name: 'meetflow',
    client_uri: base,
    redirect_uris: [`${base}${OAUTH_CALLBACK_PATH}`] as [string],
    scope: OAUTH_SCOPE,
    grant_types: ['authorization_code', 'refresh_token'] as ['authorization_code', 'refresh_token'],
    response_types: ['code'] as ['code'],
    token_endpoint_auth_method: 'none' as const,
    application_type: 'web' as const,
    dpop_bound_access_tokens: true,
  };
}

export function oauthSessionStore(redis: Redis, config: Config) {
  return sealedStore<NodeSavedSession>(redis, config.SESSION_ENCRYPTION_KEYS, 'bsky:oauth-session:');
}

const clients = new WeakMap<Redis, NodeOAuthClient>();

/**
 * One OAuth client per process (API and worker alike), with state, sessions and the refresh
 * lock in Redis. Handles resolve through BLUESKY_SERVICE, DIDs through BLUESKY_PLC_URL; plain
 * http is allowed only when those are local.
 */
export function oauthClient(redis: Redis, config: Config): NodeOAuthClient {
  let client = clients.get(redis);
  if (!client) {
    const allowHttp = [config.BLUESKY_SERVICE, config.BLUESKY_PLC_URL].some((u) => u.startsWith('http:') && isLoopback(u));
    client = new NodeOAuthClient({
      clientMetadata: oauthClientMetadata(config),
      stateStore: sealedStore<NodeSavedState>(redis, config.SESSION_ENCRYPTION_KEYS, 'bsky:oauth-state:', 3600),
      sessionStore: oauthSessionStore(redis, config),
      requestLock: redisRequestLock(redis),
      handleResolver: config.BLUESKY_SERVICE,
      plcDirectoryUrl: config.BLUESKY_PLC_URL,
      allowHttp,
      ...(allowHttp ? { fetch: globalThis.fetch } : {}),
    });
    clients.set(redis, client);
  }
  return client;
}

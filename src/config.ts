import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { LOG_LEVELS } from './logger.ts';

/**
 * All configuration comes from environment variables, validated once at start. Defaults match
 * the dev stack started by `npm run dev` (see README "Configuration").
 */
const schema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: z.coerce.number().int().positive().default(3000),
  PUBLIC_BASE_URL: z.string().url().optional(),
  DATABASE_URL: z.string().default('postgres://postgres@127.0.0.1:55432/meetflow'),
  DB_POOL_MAX: z.coerce.number().int().positive().default(10),
  DB_ACQUIRE_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  DB_LOCK_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
  API_BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
  API_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(20_000),
  API_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  API_MAX_CONNECTIONS_PER_CLIENT: z.coerce.number().int().min(0).default(256),
  LIVENESS_STALL_MS: z.coerce.number().int().positive().default(30_000),
  RATE_LIMIT_ANON_PER_MIN: z.coerce.number().int().min(0).default(60),
  RATE_LIMIT_WRITES_PER_MIN: z.coerce.number().int().min(0).default(600),
  REDIS_URL: z.string().default('redis://127.0.0.1:56379'),
  REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().positive().default(1_000),
  // TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE and
  // TEMPORAL_CONFIG_FILE are Temporal's standard client configuration (@temporalio/envconfig).
  TEMPORAL_TASK_QUEUE: z.string().default('meetflow'),
  TEMPORAL_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  TEMPORAL_UI_URL: z.string().default('http://127.0.0.1:8233'),
  AUTH_JWT_SECRET: z.string().min(16).optional(),
  AUTH_JWT_ISSUER: z.string().min(1).optional(),
  AUTH_JWT_AUDIENCE: z.string().min(1).optional(),
  AUTH_TOKEN_MAX_TTL_SECONDS: z.coerce.number().int().positive().default(30 * 86_400),
  SESSION_ENCRYPTION_KEYS: z.string().optional(),
  ALLOW_PRIVATE_NETWORK_FETCH: z.enum(['true', 'false']).optional(),
  WORKER_SHUTDOWN_GRACE: z.string().default('30s'),
  WORKER_METRICS_PORT: z.coerce.number().int().positive().optional(),
  WORKER_METRICS_HOST: z.string().default('127.0.0.1'),
  WORKER_HEALTH_PORT: z.coerce.number().int().positive().optional(),
  WORKFLOW_BUNDLE_PATH: z.string().optional(),
  /** Worker tuning; unset: the SDK's defaults. */
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().positive().optional(),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2).optional(),
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).optional(),
  MATRIX_HOMESERVER_URL: z.string().url().optional(),
  MATRIX_ACCESS_TOKEN: z.string().optional(),
  /** A file holding the token instead (the compose stack's bot registration writes one). */
  MATRIX_ACCESS_TOKEN_FILE: z.string().optional(),
  CHAT_ENABLED: z.enum(['true', 'false']).optional(),
  CHAT_RETENTION_DAYS: z.coerce.number().int().min(0).default(30),
  CHAT_RETENTION_CRON: z.string().default('0 3 * * *'),
  RECONCILE_CRON: z.string().default('*/15 * * * *'),
  SERIES_HORIZON_DAYS: z.coerce.number().int().min(1).max(10_000).default(90),
  SERIES_MAX_OCCURRENCES: z.coerce.number().int().min(1).max(5000).default(200),
  BLUESKY_SERVICE: z.string().url().default('https://bsky.social'),
  BLUESKY_PLC_URL: z.string().url().default('https://plc.directory'),
  FIREHOSE_SERVICE: z.string().url().default('wss://bsky.network'),
  /** The consumer's /health/live, /health/ready and /metrics. */
  FIREHOSE_HEALTH_PORT: z.coerce.number().int().positive().optional(),
  FIREHOSE_HEALTH_HOST: z.string().default('127.0.0.1'),
  /** How often the consumer writes its cursor down (ms); a restart replays at most this much again. */
  FIREHOSE_CURSOR_SAVE_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  /** Batches of firehose changes applied side by side (an author's changes always share one). */
  FIREHOSE_LANES: z.coerce.number().int().min(1).max(64).default(4),
  /**
   * How long the firehose consumer waits for one author's own identity host (a did:web domain)
   * before that author's commit fails for good (ms); the PLC directory is waited for without limit.
   */
  FIREHOSE_AUTHOR_HOST_WAIT_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  /** Events from the network one author may have here; their further new records are skipped (updates still apply). */
  INGEST_MAX_EVENTS_PER_AUTHOR: z.coerce.number().int().min(1).default(5000),
  /** An author's records waiting in workflows of their own (an RSVP before its event: up to an hour); further RSVPs that would wait are dead-lettered. */
  INGEST_MAX_WAITING_PER_AUTHOR: z.coerce.number().int().min(1).max(100_000).default(100),
  /**
   * Events the firehose consumer holds (read, not yet behind its cursor) before it stops reading.
   * A calendar change is held until its batch starts (tens to hundreds of ms): at the relay's
   * thousands of commits a second, 2000 stopped and re-read the stream every few seconds.
   */
  FIREHOSE_MAX_IN_FLIGHT: z.coerce.number().int().min(10).max(1_000_000).default(20_000),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
});

export type Config = Omit<z.infer<typeof schema>, 'AUTH_JWT_SECRET' | 'PUBLIC_BASE_URL' | 'CHAT_ENABLED' | 'SESSION_ENCRYPTION_KEYS' | 'ALLOW_PRIVATE_NETWORK_FETCH'> & {
  AUTH_JWT_SECRET: string;
  PUBLIC_BASE_URL: string;
  /** Global chat switch: on by default when a homeserver is configured. */
  CHAT_ENABLED: boolean;
  /** Keys that seal stored Bluesky sessions, newest first (`kid:base64 key`); the first seals. */
  SESSION_ENCRYPTION_KEYS: SessionKey[];
  /** Whether outbound calls to PDSes may reach loopback/private addresses (never in production). */
  ALLOW_PRIVATE_NETWORK_FETCH: boolean;
  TEMPORAL_ADDRESS: string;
  TEMPORAL_NAMESPACE: string;
  /** How to reach Temporal: address, TLS, API key, gRPC metadata (for the client and the worker alike). */
  TEMPORAL_CONNECTION: TemporalConnection;
};
export type TemporalConnection = Pick<NativeConnectionOptions, 'address' | 'tls' | 'apiKey' | 'metadata'> & { address: string };
export interface SessionKey { id: string; key: Buffer }

// Known development values: only ever used by a loopback development stack.
const DEV_SECRET = 'meetflow-dev-secret-change-me';
const DEV_SESSION_KEY = 'dev:bWVldGZsb3ctZGV2LXNlc3Npb24ta2V5LWxvY2FsISE=';

const isLoopbackUrl = (url: string) => ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);

/** `kid:base64,kid2:base64`: each key 32 bytes, ids unique. */
function parseSessionKeys(text: string): SessionKey[] {
  const keys = text.split(',').map((entry) => {
    const [id, b64] = entry.trim().split(':');
    const key = Buffer.from(b64 ?? '', 'base64');
    if (!id || !/^[A-Za-z0-9_-]{1,32}$/.test(id) || key.length !== 32) {
      throw new Error('invalid configuration: SESSION_ENCRYPTION_KEYS must be `kid:<32 bytes, base64>` entries separated by commas');
    }
    return { id, key };
  });
  if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new Error('invalid configuration: SESSION_ENCRYPTION_KEYS has a repeated key id');
  return keys;
}

function readSecretFile(name: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new Error(`invalid configuration: ${name} ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!text) throw new Error(`invalid configuration: ${name} ${path} is empty`);
  return text;
}

/**
 * Temporal's standard client configuration: environment variables over a TOML profile
 * (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE), over the dev stack's defaults. An API key turns TLS on.
 */
function temporalConnection(env: NodeJS.ProcessEnv): { connectionOptions: TemporalConnection; namespace: string } {
  let loaded;
  try {
    loaded = loadClientConnectConfig({ overrideEnvVars: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)) });
  } catch (err) {
    throw new Error(`invalid configuration: Temporal client configuration: ${(err as Error).message}`);
  }
  const { connectionOptions: o, namespace } = loaded;
  return {
    connectionOptions: { address: o.address ?? '127.0.0.1:7233', tls: o.tls, apiKey: o.apiKey, metadata: o.metadata },
    namespace: namespace ?? 'default',
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  const c = parsed.data;
  const publicBaseUrl = c.PUBLIC_BASE_URL ?? `http://127.0.0.1:${c.PORT}`;
  // The known development secrets only for a development stack on loopback.
  const devStack = c.NODE_ENV !== 'production' && isLoopbackUrl(publicBaseUrl);
  if (!devStack && (!c.AUTH_JWT_SECRET || c.AUTH_JWT_SECRET === DEV_SECRET)) {
    throw new Error('invalid configuration: AUTH_JWT_SECRET is required (and not the development one) outside a loopback development stack');
  }
  if (!devStack && (!c.SESSION_ENCRYPTION_KEYS || c.SESSION_ENCRYPTION_KEYS === DEV_SESSION_KEY)) {
    throw new Error('invalid configuration: SESSION_ENCRYPTION_KEYS is required (and not the development one) outside a loopback development stack');
  }
  const matrixToken = c.MATRIX_ACCESS_TOKEN ?? (c.MATRIX_ACCESS_TOKEN_FILE ? readSecretFile('MATRIX_ACCESS_TOKEN_FILE', c.MATRIX_ACCESS_TOKEN_FILE) : undefined);
  const chatEnabled = c.CHAT_ENABLED ? c.CHAT_ENABLED === 'true' : Boolean(c.MATRIX_HOMESERVER_URL);
  if (chatEnabled && (!c.MATRIX_HOMESERVER_URL || !matrixToken)) {
    throw new Error('invalid configuration: CHAT_ENABLED needs MATRIX_HOMESERVER_URL and MATRIX_ACCESS_TOKEN (or MATRIX_ACCESS_TOKEN_FILE)');
  }
  const temporal = temporalConnection(env);
  return {
    ...c,
    TEMPORAL_ADDRESS: temporal.connectionOptions.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    TEMPORAL_CONNECTION: temporal.connectionOptions,
    MATRIX_ACCESS_TOKEN: matrixToken,
    CHAT_ENABLED: chatEnabled,
    AUTH_JWT_SECRET: c.AUTH_JWT_SECRET ?? DEV_SECRET,
    PUBLIC_BASE_URL: publicBaseUrl,
    SESSION_ENCRYPTION_KEYS: parseSessionKeys(c.SESSION_ENCRYPTION_KEYS ?? DEV_SESSION_KEY),
    ALLOW_PRIVATE_NETWORK_FETCH: c.ALLOW_PRIVATE_NETWORK_FETCH ? c.ALLOW_PRIVATE_NETWORK_FETCH === 'true' : c.NODE_ENV !== 'production',
  };
}

import { z } from 'zod';

/**
 * All configuration comes from environment variables, validated once at start. Defaults match
 * the dev stack started by `npm run dev` (see README "Configuration").
 */
const schema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: z.coerce.number().int().positive().default(3000),
  PUBLIC_BASE_URL: z.string().url().optional(),
  DATABASE_URL: z.string().default('postgres://postgres@127.0.0.1:55432/meetflow'),
  DB_POOL_MAX: z.coerce.number().int().positive().default(20),
  REDIS_URL: z.string().default('redis://127.0.0.1:56379'),
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('meetflow'),
  TEMPORAL_UI_URL: z.string().default('http://127.0.0.1:8233'),
  AUTH_JWT_SECRET: z.string().min(16).optional(),
  WORKER_SHUTDOWN_GRACE: z.string().default('30s'),
  WORKER_METRICS_PORT: z.coerce.number().int().positive().optional(),
  WORKFLOW_BUNDLE_PATH: z.string().optional(),
  MATRIX_HOMESERVER_URL: z.string().url().optional(),
  MATRIX_ACCESS_TOKEN: z.string().optional(),
  CHAT_ENABLED: z.enum(['true', 'false']).optional(),
  CHAT_RETENTION_DAYS: z.coerce.number().int().min(0).default(30),
  CHAT_RETENTION_CRON: z.string().default('0 3 * * *'),
  SERIES_HORIZON_DAYS: z.coerce.number().int().min(1).max(10_000).default(90),
  SERIES_MAX_OCCURRENCES: z.coerce.number().int().min(1).max(5000).default(200),
  BLUESKY_SERVICE: z.string().url().default('https://bsky.social'),
  BLUESKY_PLC_URL: z.string().url().default('https://plc.directory'),
  FIREHOSE_SERVICE: z.string().url().default('wss://bsky.network'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

export type Config = Omit<z.infer<typeof schema>, 'AUTH_JWT_SECRET' | 'PUBLIC_BASE_URL' | 'CHAT_ENABLED'> & {
  AUTH_JWT_SECRET: string;
  PUBLIC_BASE_URL: string;
  /** Global chat switch: on by default when a homeserver is configured. */
  CHAT_ENABLED: boolean;
};

const DEV_SECRET = 'meetflow-dev-secret-change-me';

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  const c = parsed.data;
  if (!c.AUTH_JWT_SECRET && c.NODE_ENV === 'production') {
    throw new Error('invalid configuration: AUTH_JWT_SECRET is required in production');
  }
  const chatEnabled = c.CHAT_ENABLED ? c.CHAT_ENABLED === 'true' : Boolean(c.MATRIX_HOMESERVER_URL);
  if (chatEnabled && (!c.MATRIX_HOMESERVER_URL || !c.MATRIX_ACCESS_TOKEN)) {
    throw new Error('invalid configuration: CHAT_ENABLED needs MATRIX_HOMESERVER_URL and MATRIX_ACCESS_TOKEN');
  }
  return {
    ...c,
    CHAT_ENABLED: chatEnabled,
    AUTH_JWT_SECRET: c.AUTH_JWT_SECRET ?? DEV_SECRET,
    PUBLIC_BASE_URL: c.PUBLIC_BASE_URL ?? `http://127.0.0.1:${c.PORT}`,
  };
}

import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import type { Config } from './config.ts';
import { log } from './logger.ts';

export function createRedis(config: Pick<Config, 'REDIS_URL' | 'REDIS_COMMAND_TIMEOUT_MS'>): Redis {
  // Required here, not imported: tracing (src/tracing.ts) instruments ioredis when it is first required.
  const { Redis: Client } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  // Fail commands fast while disconnected instead of queueing them forever, and give up on a
  // command a Redis that hangs (or a link cut without a reset) never answers.
  const redis = new Client(config.REDIS_URL, {
    maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false, commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
  });
  // ioredis reconnects by itself; say so once per outage, not once per attempt.
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) log.warn({ reason: err.message }, 'redis unavailable; reconnecting');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.warn('redis connected again');
    down = false;
  });
  return redis;
}

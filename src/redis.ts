import { Redis } from 'ioredis';

export function createRedis(url: string): Redis {
  // Fail commands fast while disconnected instead of queueing them forever.
  return new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false });
}

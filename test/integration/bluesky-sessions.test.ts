import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { redisRequestLock } from '../../src/activities/bluesky/oauth.ts';
import { sealedStore } from '../../src/activities/bluesky/sealed-store.ts';
import { loadConfig } from '../../src/config.ts';
import { createRedis } from '../../src/redis.ts';

// The OAuth refresh lock and the encrypted session store, on the real Redis.
const config = loadConfig();
const connections = [0, 1, 2].map(() => createRedis(config.REDIS_URL)); // as three processes would
afterAll(() => { for (const r of connections) r.disconnect(); });

describe('Redis request lock', () => {
  it('lets one holder at a time through, makes the others wait instead of failing, and releases on errors', async () => {
    const name = `refresh-${Date.now()}`;
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    const work = (i: number) => redisRequestLock(connections[i % 3])(name, async () => {
      inside++;
      most = Math.max(most, inside);
      await sleep(30);
      order.push(i);
      inside--;
      if (i === 0) throw new Error('refresh failed');
      return i;
    });
    const results = await Promise.allSettled([0, 1, 2, 3, 4, 5].map(work));
    expect(most).toBe(1);
    expect(order.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1); // only the one that threw
    expect(await connections[0].get(`bsky:lock:${name}`)).toBeNull();
  });
});

describe('sealed store', () => {
  it('stores values encrypted, reads them back, and treats another secret\'s values as absent', async () => {
    const store = sealedStore<{ refreshJwt: string }>(connections[0], config.AUTH_JWT_SECRET, 'test:sealed:');
    await store.set('did:plc:abc', { refreshJwt: 'secret-refresh-token' });
    expect(await connections[0].get('test:sealed:did:plc:abc')).not.toContain('secret-refresh-token');
    expect(await store.get('did:plc:abc')).toEqual({ refreshJwt: 'secret-refresh-token' });
    const rotated = sealedStore<{ refreshJwt: string }>(connections[0], 'another-secret-of-16+', 'test:sealed:');
    expect(await rotated.get('did:plc:abc')).toBeUndefined();
    await store.del('did:plc:abc');
    expect(await store.get('did:plc:abc')).toBeUndefined();
  });
});

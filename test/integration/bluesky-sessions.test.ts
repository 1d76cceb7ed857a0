import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { redisRequestLock } from '../../src/bluesky/oauth.ts';
import { sealedStore } from '../../src/bluesky/sealed-store.ts';
import { loadConfig } from '../../src/config.ts';
import { createRedis } from '../../src/redis.ts';

// The OAuth refresh lock and the encrypted session store, on the real Redis.
const config = loadConfig();
const connections = [0, 1, 2].map(() => createRedis(config)); // as three processes would
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
  it('stores values encrypted with a key id; rotation keeps old values readable until their key is dropped', async () => {
    const key = (id: string, fill: number) => ({ id, key: Buffer.alloc(32, fill) });
    const store = sealedStore<{ refreshJwt: string }>(connections[0], [key('k1', 1)], 'test:sealed:');
    await store.set('did:plc:abc', { refreshJwt: 'secret-refresh-token' });
    const raw = (await connections[0].get('test:sealed:did:plc:abc'))!;
    expect(raw).not.toContain('secret-refresh-token');
    expect(raw.startsWith('k1.')).toBe(true);
    expect(await store.get('did:plc:abc')).toEqual({ refreshJwt: 'secret-refresh-token' });

    // A new key first: old values still open; new writes are sealed with the new key.
    const rotated = sealedStore<{ refreshJwt: string }>(connections[0], [key('k2', 2), key('k1', 1)], 'test:sealed:');
    expect(await rotated.get('did:plc:abc')).toEqual({ refreshJwt: 'secret-refresh-token' });
    await rotated.set('did:plc:abc', { refreshJwt: 'next' });
    expect((await connections[0].get('test:sealed:did:plc:abc'))!.startsWith('k2.')).toBe(true);
    // The old key dropped, or another key under a reused id: absent, never an error.
    expect(await store.get('did:plc:abc')).toBeUndefined();
    const impostor = sealedStore<{ refreshJwt: string }>(connections[0], [key('k2', 9)], 'test:sealed:');
    expect(await impostor.get('did:plc:abc')).toBeUndefined();
    await rotated.del('did:plc:abc');
    expect(await rotated.get('did:plc:abc')).toBeUndefined();
  });
});

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A Redis key/value store whose values are encrypted (AES-256-GCM): Bluesky sessions and OAuth
 * state hold tokens and DPoP keys. The key is derived from AUTH_JWT_SECRET, so rotating that
 * secret also logs every Bluesky connection out (they show as disconnected and are re-linked at
 * the next login).
 */
export function sealedStore<V>(redis: Redis, secret: string, prefix: string, ttlSeconds?: number) {
  const key = Buffer.from(hkdfSync('sha256', secret, 'meetflow', 'bluesky sessions', 32));
  const seal = (value: V) => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  };
  const open = (sealed: string): V | undefined => {
    const raw = Buffer.from(sealed, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    try {
      return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8'));
    } catch {
      return undefined; // sealed with another secret: as good as absent
    }
  };
  return {
    async get(id: string): Promise<V | undefined> {
      const sealed = await redis.get(prefix + id);
      return sealed ? open(sealed) : undefined;
    },
    async set(id: string, value: V): Promise<void> {
      if (ttlSeconds) await redis.set(prefix + id, seal(value), 'EX', ttlSeconds);
      else await redis.set(prefix + id, seal(value));
    },
    async del(id: string): Promise<void> {
      await redis.del(prefix + id);
    },
  };
}

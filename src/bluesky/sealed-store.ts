import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { SessionKey } from '../config.ts';

/**
 * A Redis key/value store whose values are encrypted (AES-256-GCM): Bluesky sessions and OAuth
 * state hold tokens and DPoP keys. Keys come from SESSION_ENCRYPTION_KEYS (newest first, each with
 * an id): the first seals, every listed key opens what it sealed, so a key is rotated by putting a
 * new one first and dropping the old one once its sessions have been rewritten or expired. A value
 * sealed with a key no longer listed is as good as absent (that user re-links at the next login).
 */
export function sealedStore<V>(redis: Redis, keys: SessionKey[], prefix: string, ttlSeconds?: number) {
  const [current] = keys;
  const seal = (value: V) => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', current.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return `${current.id}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  };
  const open = (sealed: string): V | undefined => {
    const dot = sealed.indexOf('.');
    const key = keys.find((k) => k.id === sealed.slice(0, dot))?.key;
    if (dot < 1 || !key) return undefined;
    const raw = Buffer.from(sealed.slice(dot + 1), 'base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8'));
    } catch {
      return undefined; // tampered with, or sealed under a reused id with another key
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

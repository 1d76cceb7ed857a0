import { afterEach, describe, expect, it, vi } from 'vitest';
import { mintToken, readAuth, type TokenConfig } from '../../src/api/auth.ts';

const config = (secret: string, extra: Partial<TokenConfig> = {}): TokenConfig => ({
  AUTH_JWT_SECRET: secret, AUTH_JWT_ISSUER: undefined, AUTH_JWT_AUDIENCE: undefined, AUTH_TOKEN_MAX_TTL_SECONDS: 86_400, ...extra,
});
const bearer = (token: string) => `Bearer ${token}`;

describe('readAuth: tokens accepted before are remembered, never beyond what a fresh check accepts', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('answers the same caller again, until the token expires', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const tc = config('a-secret-of-enough-length');
    const token = await mintToken(tc, { sub: 'u1', role: 'admin' }, 60);
    expect(await readAuth(bearer(token), tc)).toEqual({ sub: 'u1', role: 'admin' });
    expect(await readAuth(bearer(token), tc)).toEqual({ sub: 'u1', role: 'admin' });
    vi.setSystemTime(Date.now() + 61_000);
    await expect(readAuth(bearer(token), tc)).rejects.toThrow(/expired/);
  });

  it('a token accepted under one configuration is checked afresh under another (secret, issuer)', async () => {
    const tc = config('a-secret-of-enough-length');
    const token = await mintToken(tc, { sub: 'u2' });
    expect(await readAuth(bearer(token), tc)).toEqual({ sub: 'u2', role: undefined });
    await expect(readAuth(bearer(token), config('another-secret-entirely'))).rejects.toThrow(/invalid/);
    await expect(readAuth(bearer(token), config('a-secret-of-enough-length', { AUTH_JWT_ISSUER: 'meetflow' }))).rejects.toThrow(/issuer/);
  });

  it('a token changed by one character is refused, whatever was accepted before', async () => {
    const tc = config('a-secret-of-enough-length');
    const token = await mintToken(tc, { sub: 'u3' });
    await readAuth(bearer(token), tc);
    const [head, body, sig] = token.split('.');
    const forged = [head, body, (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1)].join('.');
    await expect(readAuth(bearer(forged), tc)).rejects.toThrow(/invalid/);
    const claims = Buffer.from(JSON.stringify({ sub: 'admin-me', role: 'admin', exp: Math.floor(Date.now() / 1000) + 60 })).toString('base64url');
    await expect(readAuth(bearer([head, claims, sig].join('.')), tc)).rejects.toThrow(/invalid/);
  });
});

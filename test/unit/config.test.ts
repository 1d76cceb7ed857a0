import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { makeSlug } from '../../src/domain/slug.ts';
import { isTimeZone } from '../../src/domain/time.ts';
import { parseOperationId, operationId } from '../../src/temporal/contracts.ts';

describe('configuration', () => {
  it('has documented defaults for the dev stack', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
    expect(c.WORKER_SHUTDOWN_GRACE).toBe('30s');
    expect(c.PUBLIC_BASE_URL).toBe('http://127.0.0.1:3000');
  });
  it('reaches Temporal by its standard client configuration: environment over a TOML profile over the defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'envconfig-'));
    const file = join(dir, 'temporal.toml');
    writeFileSync(file, '[profile.cloud]\naddress = "ns.acct.tmprl.cloud:7233"\nnamespace = "ns.acct"\napi_key = "key-from-file"\n');
    const cloud = loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud' });
    expect(cloud.TEMPORAL_ADDRESS).toBe('ns.acct.tmprl.cloud:7233');
    expect(cloud.TEMPORAL_NAMESPACE).toBe('ns.acct');
    expect(cloud.TEMPORAL_CONNECTION).toMatchObject({ address: 'ns.acct.tmprl.cloud:7233', apiKey: 'key-from-file', tls: true }); // an API key turns TLS on
    const env = loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud', TEMPORAL_ADDRESS: 'other:7233', TEMPORAL_API_KEY: 'key-from-env' });
    expect(env.TEMPORAL_CONNECTION).toMatchObject({ address: 'other:7233', apiKey: 'key-from-env' });
    expect(loadConfig({}).TEMPORAL_CONNECTION).toEqual({ address: '127.0.0.1:7233', tls: undefined, apiKey: undefined, metadata: undefined });
    expect(() => loadConfig({ TEMPORAL_TLS: 'true', TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'missing.pem') })).toThrow(/Temporal client configuration/);
  });

  it('reads the Matrix token from MATRIX_ACCESS_TOKEN_FILE, and names the file it cannot read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'token-'));
    writeFileSync(join(dir, 'token'), 'syt_from_file\n');
    expect(loadConfig({ MATRIX_HOMESERVER_URL: 'http://127.0.0.1:8008', MATRIX_ACCESS_TOKEN_FILE: join(dir, 'token') }).MATRIX_ACCESS_TOKEN).toBe('syt_from_file');
    expect(() => loadConfig({ MATRIX_HOMESERVER_URL: 'http://127.0.0.1:8008', MATRIX_ACCESS_TOKEN_FILE: join(dir, 'none') })).toThrow(/MATRIX_ACCESS_TOKEN_FILE .*none cannot be read/);
  });

  it('rejects bad values with the variable named, and a missing secret in production', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/PORT/);
    expect(() => loadConfig({ AUTH_JWT_SECRET: 'short' })).toThrow(/AUTH_JWT_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/AUTH_JWT_SECRET is required/);
  });
  it('knows no default secret outside a loopback development stack', () => {
    const key = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
    const secret = 'a-real-secret-of-some-length';
    // A public address without secrets, or with the development ones: refused, whatever NODE_ENV says.
    expect(() => loadConfig({ PUBLIC_BASE_URL: 'https://events.example' })).toThrow(/AUTH_JWT_SECRET is required/);
    expect(() => loadConfig({ PUBLIC_BASE_URL: 'https://events.example', AUTH_JWT_SECRET: 'meetflow-dev-secret-change-me', SESSION_ENCRYPTION_KEYS: key })).toThrow(/AUTH_JWT_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'production', AUTH_JWT_SECRET: secret })).toThrow(/SESSION_ENCRYPTION_KEYS is required/);
    expect(() => loadConfig({ NODE_ENV: 'production', AUTH_JWT_SECRET: secret, SESSION_ENCRYPTION_KEYS: 'k1:short' })).toThrow(/32 bytes/);
    const c = loadConfig({ NODE_ENV: 'production', AUTH_JWT_SECRET: secret, SESSION_ENCRYPTION_KEYS: `k2:${Buffer.alloc(32, 8).toString('base64')},${key}` });
    expect(c.SESSION_ENCRYPTION_KEYS.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(c.ALLOW_PRIVATE_NETWORK_FETCH).toBe(false);
    expect(loadConfig({}).ALLOW_PRIVATE_NETWORK_FETCH).toBe(true);
  });
  it('log lines escape what they print of a request', async () => {
    const { loggable } = await import('../../src/api/errors.ts');
    expect(loggable('/v1/events/x\n2026-01-01 ERROR forged')).toBe('"/v1/events/x\\n2026-01-01 ERROR forged"');
    expect(loggable('a\u0000b')).not.toContain(String.fromCharCode(0));
  });
});

describe('small domain helpers', () => {
  it('slugs are readable, URL-safe and distinct', () => {
    const a = makeSlug('Sommerfest à Köln!');
    expect(a).toMatch(/^sommerfest-a-koln-[0-9a-z]{6}$/);
    expect(makeSlug('Sommerfest à Köln!')).not.toBe(a);
    expect(makeSlug('!!!')).toMatch(/^item-/);
  });
  it('time zones are IANA names', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('America/Argentina/Buenos_Aires')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
    expect(isTimeZone('+02:00')).toBe(false);
  });
  it('operation ids round-trip and foreign ids are refused', () => {
    expect(parseOperationId(operationId('waitlist', 'my-party'))).toEqual({ type: 'waitlist', entity: { kind: 'event', slug: 'my-party' } });
    expect(parseOperationId('waitlist')).toBeNull();
    expect(parseOperationId('other:thing')).toBeNull();
  });
});

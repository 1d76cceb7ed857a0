import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { makeSlug } from '../../src/domain/slug.ts';
import { isTimeZone } from '../../src/domain/time.ts';
import { parseOperationId, operationId } from '../../src/temporal/operations.ts';

describe('configuration', () => {
  it('has documented defaults for the dev stack', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
    expect(c.WORKER_SHUTDOWN_GRACE).toBe('30s');
    expect(c.PUBLIC_BASE_URL).toBe('http://127.0.0.1:3000');
  });
  it('rejects bad values with the variable named, and a missing secret in production', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/PORT/);
    expect(() => loadConfig({ AUTH_JWT_SECRET: 'short' })).toThrow(/AUTH_JWT_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/AUTH_JWT_SECRET is required/);
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

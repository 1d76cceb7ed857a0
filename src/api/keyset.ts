import { DomainError } from '../domain/errors.ts';

/**
 * Keyset page cursors: the sort key of a page's last row, as opaque base64url. Timestamps go in
 * as Postgres prints them (`created_at::text`, microseconds and all): a JavaScript Date keeps
 * milliseconds only, and a key cut to milliseconds sorts before its own row, which then comes
 * back on every page.
 */
export type Key = (string | number)[];

/** Postgres' text form of a timestamptz, e.g. `2026-11-26 01:40:41.123456+00`. */
export const PG_TIMESTAMP = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d)?$/;

export const writeKey = (key: Key) => Buffer.from(JSON.stringify(key)).toString('base64url');

/** An instant as JavaScript writes it (`toISOString()`): a real one, not merely one of that shape. */
const isInstant = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v)) && new Date(v).toISOString() === v;

/**
 * The key in `text` if it has the shape `parts` describes (one per part: an integer, an instant
 * written by `toISOString()`, or a pattern), else a 400.
 */
export function readKey(text: string, parts: ('int' | 'instant' | RegExp)[]): Key {
  try {
    const key: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === parts.length && key.every((v, i) => {
      const p = parts[i];
      return p === 'int' ? Number.isSafeInteger(v) : p === 'instant' ? isInstant(v) : typeof v === 'string' && p.test(v);
    })) return key;
  } catch { /* not one of ours */ }
  throw new DomainError('validation_failed', 'cursor is not valid');
}

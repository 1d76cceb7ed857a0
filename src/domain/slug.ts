import { randomBytes } from 'node:crypto';

/** `Summer Picnic!` -> `summer-picnic-k3x9qa`: readable, URL-safe, and unique without a lookup. */
export function makeSlug(name: string): string {
  const base = name.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
    .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48) || 'item';
  const suffix = randomBytes(4).readUInt32BE(0).toString(36).padStart(6, '0').slice(-6);
  return `${base}-${suffix}`;
}

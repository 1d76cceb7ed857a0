import { z } from 'zod';

/** Field rules shared by the API and ingestion from the network. */

/**
 * A link people will click (and meetflow publishes to Bluesky): http(s) only, never
 * `javascript:`, `data:` or the like.
 */
export const httpUrl = z.string().max(2000).url()
  .refine((u) => /^https?:\/\/[^\s]+$/i.test(u), 'must be an http(s) URL');

/** One line of text: no control characters, starting with a visible character (clients trim). */
export const line = (max: number) => z.string().min(1).max(max)
  .regex(/^[^\u0000-\u0020\u007f][^\u0000-\u001f\u007f]*$/, 'must be one line of text starting with a visible character');

/** An e-mail address, as plainly as the document can state it. */
export const email = z.string().max(254).regex(/^[^\s@\u0000-\u001f]+@[^\s@\u0000-\u001f]+\.[^\s@\u0000-\u001f]+$/, 'must be an e-mail address');

/** An AT Protocol handle (or a platform's own), as the API states it. */
export const handle = z.string().regex(/^[a-zA-Z0-9.-]{1,253}$/);

/** Free text (newlines allowed; no NUL, which no database stores). */
export const text = (max: number) => z.string().max(max).regex(/^[^\u0000]*$/, 'must not contain NUL');

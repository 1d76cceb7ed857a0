import { z } from 'zod';

/**
 * A link people will click (and meetflow publishes to Bluesky): http(s) only, never
 * `javascript:`, `data:` or the like.
 */
export const httpUrl = z.string().max(2000).url()
  .refine((u) => /^https?:\/\/[^\s]+$/i.test(u), 'must be an http(s) URL');

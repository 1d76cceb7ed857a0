import { z } from '@hono/zod-openapi';
import { email, handle, httpUrl, line, text } from '../domain/fields.ts';
import { isTimeZone, TIME_ZONE_PATTERN } from '../domain/time.ts';

/**
 * The request fields every route shares, each stating in the OpenAPI document exactly what the
 * server accepts (patterns, lengths, enums), so a client (or a fuzzer) can know it up front.
 */

/** Slugs meetflow makes: lower-case letters, digits and dashes. */
export const slug = z.string().regex(/^[a-z0-9-]{1,100}$/).openapi({ example: 'summer-picnic-k3x9qa' });
export const SlugParam = z.object({ slug });

/** An operation id `<type>:<entity key>` (the key may be a DID or an AT-URI): printable ASCII. */
export const operationId = z.string().regex(/^[a-z-]{1,40}:[\x21-\x7e]{1,1000}$/).openapi({ example: 'delete-event:summer-picnic-k3x9qa' });

/** The follow-up operations a change set in motion (answers of writes). */
export const followUpOperations = z.array(z.object({
  id: z.string(), type: z.string(),
  pending: z.literal(true).optional().openapi({ description: 'recorded with the change, not yet handed to Temporal (the relay delivers it)' }),
}));

/** An event role's name (e.g. `volunteers`). */
export const roleName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/).openapi({ example: 'volunteers' });

/** Opaque page cursors (base64url). */
export const cursor = z.string().regex(/^[A-Za-z0-9_-]{1,2000}$/);

/** A single-line name; free text. */
export const name = line;
export { email, handle, text };

export const datetime = z.string().datetime({ offset: true }).openapi({ example: '2026-12-24T18:00:00+01:00' });
export const timeZone = z.string().regex(TIME_ZONE_PATTERN).refine(isTimeZone, 'must be an IANA time zone')
  .openapi({ description: 'an IANA time zone name (that exists: a 400 otherwise)', example: 'Europe/Berlin' });
export const link = httpUrl;

/** A PATCH body must change something: `minProperties: 1`, stated and enforced. */
export function patchOf<T extends z.ZodRawShape>(shape: T) {
  return z.object(shape).partial().strict()
    .refine((p) => Object.keys(p).length > 0, 'nothing to change')
    .openapi({ minProperties: 1 });
}

import type { Agent } from '@atproto/api';
import { ComAtprotoRepoPutRecord, XRPCError } from '@atproto/api';

/**
 * The PDS's reason when it refused a write for what was sent (a 4xx: an invalid or too large
 * record); null for anything a retry may get past (network, 5xx, rate limit, session, a swap).
 */
export function refusal(err: unknown): string | null {
  if (!(err instanceof XRPCError) || err.status < 400 || err.status >= 500) return null;
  if ([401, 403, 408, 429].includes(err.status)) return null;
  return `${err.status} ${err.error}: ${err.message}`.slice(0, 300);
}

function isRecordNotFound(err: unknown): boolean {
  const e = err as { message?: string; error?: string };
  return /RecordNotFound|Could not locate record/i.test(String(e?.message ?? e?.error ?? err));
}

/** The record changed between our read and our write: a retry re-reads it. */
export class RecordChangedError extends Error {
  constructor(what: string) { super(`${what} changed while writing; re-reading`); this.name = 'RecordChangedError'; }
}

/**
 * Writes one of meetflow's records at a known rkey (so a retry rewrites the same record). It
 * starts from the record as it is now (`build` keeps fields of other apps) and swaps against its
 * CID: a record that changed in between is a `RecordChangedError` (retried: the retry re-reads),
 * never a blind overwrite. `fresh`: the rkey was just minted, so nothing can be stored under it
 * yet: no read (one PDS round trip less); the swap (`swapRecord: null`) still refuses a record
 * that is there after all, and the retry reads it.
 */
export async function putOwnRecord(
  agent: Agent,
  target: { repo: string; collection: string; rkey: string },
  build: (stored: Record<string, unknown> | undefined) => Record<string, unknown>,
  fresh = false,
): Promise<{ uri: string; cid: string }> {
  const current = fresh ? null : await agent.com.atproto.repo.getRecord(target)
    .then((r) => ({ cid: r.data.cid ?? null, value: r.data.value as Record<string, unknown> }))
    .catch((err) => { if (isRecordNotFound(err)) return null; throw err; });
  try {
    const { data } = await agent.com.atproto.repo.putRecord({
      ...target, record: build(current?.value), swapRecord: current?.cid ?? null, validate: false,
    });
    return { uri: data.uri, cid: data.cid };
  } catch (err) {
    if (err instanceof ComAtprotoRepoPutRecord.InvalidSwapError) {
      throw new RecordChangedError(`${target.collection}/${target.rkey}`);
    }
    throw err;
  }
}


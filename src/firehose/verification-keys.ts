import { ensureAtprotoKey, type DidDocument, type IdResolver } from '@atproto/identity';
import type { Config } from '../config.ts';
import { idResolver } from '../identity.ts';
import { setBounded } from '../bounded-map.ts';

/** A failure that passes (the service is away or overloaded), as opposed to a bad record or identity. */
function isPassing(err: unknown): boolean {
  for (let e = err as (Error & { status?: number; code?: string; cause?: unknown }) | undefined; e; e = e.cause as typeof e) {
    if (e.name === 'AbortError' || e.name === 'TimeoutError') return true;
    if (e instanceof TypeError && /fetch failed/i.test(e.message)) return true;
    if (typeof e.status === 'number' && (e.status >= 500 || e.status === 429)) return true;
    if (e.code && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|EPIPE|UND_ERR_.*)$/.test(e.code)) return true;
  }
  return false;
}

/** did:web authors whose host is failing, kept (the oldest written leaves first) so that many cannot grow it without bound. */
const FAILING_KEPT = 10_000;

/**
 * The key lookups of commit verification (`resolveAtprotoKey`, all that verifyChange calls), with
 * a failure that passes marked `passing` (the commit is retried, the cursor stays behind it) and
 * any other one left as it is (the commit is dead-lettered as unverifiable).
 *
 * Whose failure it is decides how long it is waited for. The PLC directory is everyone's: while it
 * is away, every commit waits (nothing skipped). A did:web document comes from its author's own
 * domain, which the author controls: one that hangs or refuses would hold the cursor for good, and
 * once FIREHOSE_MAX_IN_FLIGHT events were behind it reading would stop, one author halting the
 * whole network's ingestion. So an author's host gets `hostWaitMs` (FIREHOSE_AUTHOR_HOST_WAIT_MS):
 * failing longer, the commit fails for good, and so do that author's next ones without asking
 * the host, which is asked again once per `hostWaitMs` (an answer ends it).
 *
 * A document's key is read once: the DID cache hands out the same document until it refreshes it,
 * and reading the key from it on every commit was a twentieth of the consumer's time
 * (bench/firehose-ingest.ts, --cpu-prof).
 */
export function verificationKeys(config: Config, hostWaitMs = config.FIREHOSE_AUTHOR_HOST_WAIT_MS, now = Date.now): IdResolver {
  const resolver = idResolver(config);
  const keyOfDocument = new WeakMap<DidDocument, string>();
  const failing = new Map<string, { since: number; askedAt: number; reason: string }>();
  const givenUp = (did: string, f: { since: number; reason: string }) =>
    new Error(`identity host of ${did} unavailable for ${Math.round((now() - f.since) / 1000)} s: ${f.reason}`);

  const keyOf = async (did: string, force?: boolean) => {
    if (did.startsWith('did:key:')) return did;
    const f = failing.get(did);
    if (f && now() - f.since >= hostWaitMs && now() - f.askedAt < hostWaitMs) throw givenUp(did, f);
    try {
      const doc = await resolver.did.ensureResolve(did, force);
      let key = keyOfDocument.get(doc);
      if (key === undefined) { // a document not seen before: fetched just now, so the host answered
        keyOfDocument.set(doc, key = ensureAtprotoKey(doc));
        failing.delete(did);
      }
      return key;
    } catch (err) {
      if (!isPassing(err)) throw err;
      const reason = (err as Error).message;
      if (did.startsWith('did:web:')) {
        const since = f?.since ?? now();
        setBounded(failing, did, { since, askedAt: now(), reason }, FAILING_KEPT);
        if (now() - since >= hostWaitMs) throw givenUp(did, { since, reason });
      }
      throw Object.assign(new Error(`identity of ${did} unavailable: ${reason}`), { passing: true });
    }
  };
  return { did: { resolveAtprotoKey: keyOf } } as unknown as IdResolver;
}

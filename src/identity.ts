import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { IdResolver, MemoryCache, type DidDocument } from '@atproto/identity';
import { ApplicationFailure } from '@temporalio/common';
import type { Config } from './config.ts';

const resolvers = new WeakMap<Config, IdResolver>();

const MINUTE = 60_000;
/** DID documents cached: without it every verified commit fetched its author's key from the PLC. */
const CACHED_DIDS = 100_000;

/**
 * Stale after 15 minutes (served while refreshed in the background), gone after a day, and at
 * most CACHED_DIDS of them (the oldest written leaves first), so hostile authors cannot grow it
 * without bound. A rotated signing key is no wait: a commit that fails verification against the
 * cached key is checked again against a fresh one (`forceKeyRefresh` in @atproto/sync).
 */
class BoundedDidCache extends MemoryCache {
  private readonly refreshing = new Set<string>();
  constructor() { super(15 * MINUTE, 24 * 60 * MINUTE); }
  override async cacheDid(did: string, doc: DidDocument): Promise<void> {
    this.cache.delete(did); // re-inserted at the end: Map order is write order
    await super.cacheDid(did, doc);
    if (this.cache.size > CACHED_DIDS) this.cache.delete(this.cache.keys().next().value!);
  }
  /**
   * In the background, one fetch per DID at a time; a failed one leaves the stale document until
   * it expires. The library awaits the refresh and fails with it: while the PLC (or an author's
   * did:web host) was away, every author whose document had turned stale waited for it too.
   */
  override async refreshCache(did: string, getDoc: () => Promise<DidDocument | null>): Promise<void> {
    if (this.refreshing.has(did)) return;
    this.refreshing.add(did);
    void super.refreshCache(did, getDoc).catch(() => undefined).finally(() => this.refreshing.delete(did));
  }
}

/**
 * DID resolution (handles, PDS endpoints, signing keys for the firehose) through BLUESKY_PLC_URL.
 * The library's fetch refuses plain http (SSRF guard); a loopback PLC in development and tests
 * gets the plain fetch, nothing else does.
 */
export function idResolver(config: Config): IdResolver {
  let r = resolvers.get(config);
  if (!r) {
    const local = /^http:\/\/(localhost|127\.0\.0\.1)(:|\/|$)/.test(config.BLUESKY_PLC_URL);
    r = new IdResolver({ plcUrl: config.BLUESKY_PLC_URL, timeout: 5000, didCache: new BoundedDidCache(), ...(local ? { fetch: globalThis.fetch } : {}) });
    resolvers.set(config, r);
  }
  return r;
}

const PRIVATE = new BlockList();
for (const [net, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) PRIVATE.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['::ffff:0:0', 96]] as const) PRIVATE.addSubnet(net, prefix, 'ipv6');

/**
 * A service URL taken from untrusted data (a PDS named by a DID document) before the worker calls
 * it: in production only https to public addresses, so a hostile PDS entry cannot aim the worker
 * at internal services. Development and tests (ALLOW_PRIVATE_NETWORK_FETCH) use loopback PDSes.
 */
export async function assertFetchable(url: string, config: Pick<Config, 'ALLOW_PRIVATE_NETWORK_FETCH'>): Promise<void> {
  if (config.ALLOW_PRIVATE_NETWORK_FETCH) return;
  const refuse = (why: string) => ApplicationFailure.create({ type: 'UnsafeServiceUrl', message: `refusing to call ${url}: ${why}`, nonRetryable: true });
  let parsed: URL;
  try { parsed = new URL(url); } catch { throw refuse('not a URL'); }
  if (parsed.protocol !== 'https:') throw refuse('only https is allowed');
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true }).catch(() => []);
  if (!addresses.length) throw refuse('the host does not resolve');
  for (const a of addresses) {
    if (PRIVATE.check(a.address, a.family === 6 ? 'ipv6' : 'ipv4')) throw refuse(`${a.address} is not a public address`);
  }
}

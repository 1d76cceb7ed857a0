import { IdResolver } from '@atproto/identity';
import type { Config } from './config.ts';

const resolvers = new WeakMap<Config, IdResolver>();

/**
 * DID resolution (handles, PDS endpoints, signing keys for the firehose) through BLUESKY_PLC_URL.
 * The library's fetch refuses plain http (SSRF guard); a loopback PLC in development and tests
 * gets the plain fetch, nothing else does.
 */
export function idResolver(config: Config): IdResolver {
  let r = resolvers.get(config);
  if (!r) {
    const local = /^http:\/\/(localhost|127\.0\.0\.1)(:|\/|$)/.test(config.BLUESKY_PLC_URL);
    r = new IdResolver({ plcUrl: config.BLUESKY_PLC_URL, timeout: 5000, ...(local ? { fetch: globalThis.fetch } : {}) });
    resolvers.set(config, r);
  }
  return r;
}

import type { AtprotoData } from '@atproto/identity';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config.ts';
import { setBounded } from '../../bounded-map.ts';
import { runBounded } from '../../concurrency.ts';
import { ensureShadowUser, unknownDids, userIdByDid } from '../../db/users.ts';
import { makeSlug } from '../../domain/slug.ts';
import { idResolver } from '../../identity.ts';

/** What looking up authors needs (the ingest activities' dependencies have it). */
type Deps = { ds: DataSource; config: Config };

/** New authors' DID documents are looked up this many at once, all of a batch within IDENTITY_WAIT_MS. */
const LOOKUPS_AT_ONCE = 16;
const IDENTITY_WAIT_MS = 5000;
/**
 * What a look-up found for a DID (its identity; null: none, or not in time), kept IDENTITY_WAIT_MS
 * for `userFor`, which would otherwise ask again; at most LOOKED_UP_KEPT (the oldest written leaves first).
 */
const LOOKED_UP_KEPT = 10_000;
const lookedUp = new Map<string, { identity: AtprotoData | null; until: number }>();

/**
 * Looks up the DID documents of the authors no user has yet, side by side, before a batch
 * applies their records: a document comes from the PLC or, for a did:web, from the author's own
 * domain, which may hang. One at a time, each new author whose host hung cost the lane's batch
 * the resolver's timeout (5 s), so a batch of 250 RSVPs from such authors held the lane for 20
 * minutes. Now the whole batch waits at most IDENTITY_WAIT_MS; an author whose document has not
 * come by then is named by their DID or handle (`userFor`), and not asked again for as long.
 */
export async function lookUpNewAuthors(deps: Deps, dids: string[]): Promise<void> {
  const asked = [...new Set(dids)].filter((did) => !lookedUpLately(did));
  if (!asked.length) return; // looked up already (ingestEvents inside a batch: the batch did)
  const fresh = await unknownDids(deps.ds, asked);
  if (!fresh.length) return;
  const deadline = Date.now() + IDENTITY_WAIT_MS;
  await runBounded(fresh, LOOKUPS_AT_ONCE, async (did) => {
    const identity = Date.now() < deadline ? await by(deadline, idResolver(deps.config).did.resolveAtprotoData(did).catch(() => null)) : null;
    setBounded(lookedUp, did, { identity, until: Date.now() + IDENTITY_WAIT_MS }, LOOKED_UP_KEPT);
  });
}

function lookedUpLately(did: string): { identity: AtprotoData | null } | undefined {
  const found = lookedUp.get(did);
  if (found && found.until <= Date.now()) lookedUp.delete(did);
  return found && found.until > Date.now() ? found : undefined;
}

/** What `p` gives, or null if it has not by `deadline`. */
async function by<T>(deadline: number, p: Promise<T | null>): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((ok) => { timer = setTimeout(() => ok(null), deadline - Date.now()); });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The meetflow user of a DID: the real user with it, or a shadow account (handle as name, no
 * email), created once (DID unique) with the handle and PDS its DID document names, as just
 * looked up (`lookUpNewAuthors`) or looked up now; without one, named by the handle the record gave, or the DID.
 */
export async function userFor(deps: Deps, did: string, handle: string | null): Promise<string> {
  const { ds, config } = deps;
  const known = await userIdByDid(ds, did);
  if (known) return known;
  const kept = lookedUpLately(did);
  const identity = kept ? kept.identity : await idResolver(config).did.resolveAtprotoData(did).catch(() => null);
  const name = identity?.handle ?? handle ?? did;
  return ensureShadowUser(ds, { slug: makeSlug(name), name, handle: identity?.handle ?? handle, did, pdsUrl: identity?.pds ?? null });
}

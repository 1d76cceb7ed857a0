import type { DataSource } from 'typeorm';
import type { Config } from '../../config.ts';
import { runBounded } from '../../concurrency.ts';
import { ensureShadowUser, unknownDids, userIdByDid } from '../../db/users.ts';
import { makeSlug } from '../../domain/slug.ts';
import { idResolver } from '../../identity.ts';

/** What looking up authors needs (the ingest activities' dependencies have it). */
type Deps = { ds: DataSource; config: Config };

/** New authors' DID documents are looked up this many at once, all of a batch within IDENTITY_WAIT_MS. */
const LOOKUPS_AT_ONCE = 16;
const IDENTITY_WAIT_MS = 5000;
/** DIDs whose document did not come in time, until when they are not asked again; at most UNANSWERED_KEPT (the oldest written leaves first). */
const UNANSWERED_KEPT = 10_000;
const unanswered = new Map<string, number>();

/**
 * Looks up the DID documents of the authors no user has yet, side by side, before a batch
 * applies their records: a document comes from the PLC or, for a did:web, from the author's own
 * domain, which may hang. One at a time, each new author whose host hung cost the lane's batch
 * the resolver's timeout (5 s), so a batch of 250 RSVPs from such authors held the lane for 20
 * minutes. Now the whole batch waits at most IDENTITY_WAIT_MS; an author whose document has not
 * come by then is not asked again for as long (`userFor` names them by their DID or handle).
 * Documents that came are in the resolver's cache for `userFor`.
 */
export async function lookUpNewAuthors(deps: Deps, dids: string[]): Promise<void> {
  const fresh = await unknownDids(deps.ds, [...new Set(dids)].filter((did) => !isUnanswered(did)));
  if (!fresh.length) return;
  const deadline = Date.now() + IDENTITY_WAIT_MS;
  await runBounded(fresh, LOOKUPS_AT_ONCE, async (did) => {
    if (Date.now() >= deadline || !await settlesBy(idResolver(deps.config).did.resolveAtprotoData(did), deadline)) {
      unanswered.delete(did); // re-inserted at the end: Map order is write order
      unanswered.set(did, Date.now() + IDENTITY_WAIT_MS);
      if (unanswered.size > UNANSWERED_KEPT) unanswered.delete(unanswered.keys().next().value!);
    }
  });
}

function isUnanswered(did: string): boolean {
  const until = unanswered.get(did);
  if (until !== undefined && until <= Date.now()) unanswered.delete(did);
  return until !== undefined && until > Date.now();
}

/** Whether `p` settles (either way) before `deadline`. */
async function settlesBy(p: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((ok) => { timer = setTimeout(() => ok(false), deadline - Date.now()); });
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The meetflow user of a DID: the real user with it, or a shadow account (handle as name, no
 * email), created once (DID unique) with the handle and PDS its DID document names; one whose
 * document did not come in time (`lookUpNewAuthors`) is named by the handle the record gave, or the DID.
 */
export async function userFor(deps: Deps, did: string, handle: string | null): Promise<string> {
  const { ds, config } = deps;
  const known = await userIdByDid(ds, did);
  if (known) return known;
  const identity = isUnanswered(did) ? null : await idResolver(config).did.resolveAtprotoData(did).catch(() => null);
  const name = identity?.handle ?? handle ?? did;
  return ensureShadowUser(ds, { slug: makeSlug(name), name, handle: identity?.handle ?? handle, did, pdsUrl: identity?.pds ?? null });
}

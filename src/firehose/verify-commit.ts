import { def, MemoryBlockstore, MST, RepoVerificationError } from '@atproto/repo';
import { encode } from '@atproto/lex-cbor';
import type { CommitEvt } from '@atproto/sync';
import { verifySignature } from './signatures.ts';

/**
 * Commits whose signature was checked lately: the library hands over one event per change, and a
 * commit may carry many (up to 200 in one `applyWrites`), so its signature is checked once. (The
 * library checked every block against its CID: the same CID is the same signed bytes.)
 */
const SIGNED_KEPT = 1000;
const signed = new Set<string>();

/**
 * Checks one change from the firehose against its author's signed commit, as @atproto/sync's
 * authenticated parse does but with the signature checked natively (`signatures.ts`): the commit
 * is the author's, signed with their key (`keyOf`; on a bad signature the key is fetched again
 * once, in case it was rotated), and its tree holds the change at its path (the record's CID, or
 * nothing for a delete). Throws RepoVerificationError when it does not; `keyOf`'s own failures pass through.
 */
export async function verifyChange(evt: CommitEvt, keyOf: (did: string, fresh: boolean) => Promise<string>): Promise<void> {
  // Read in place: the store's constructor would copy every block, keying each by its CID's string.
  const store = Object.assign(new MemoryBlockstore(), { blocks: evt.blocks });
  const commit = await store.readObj(evt.commit, def.commit);
  if (commit.did !== evt.did) throw new RepoVerificationError(`Invalid repo did: ${commit.did}`);
  const commitCid = evt.commit.toString();
  if (!signed.has(commitCid)) {
    const { sig, ...unsigned } = commit;
    const data = encode(unsigned);
    if (!verifySignature(await keyOf(evt.did, false), data, sig) && !verifySignature(await keyOf(evt.did, true), data, sig)) {
      throw new RepoVerificationError(`Invalid signature on commit: ${commitCid}`);
    }
    signed.add(commitCid);
    if (signed.size > SIGNED_KEPT) signed.delete(signed.values().next().value!);
  }
  const found = await MST.load(store, commit.data).get(`${evt.collection}/${evt.rkey}`);
  if (evt.event === 'delete' ? found !== null : !found?.equals(evt.cid)) {
    throw new RepoVerificationError(`commit ${commitCid} does not hold ${evt.uri.toString()}`);
  }
}

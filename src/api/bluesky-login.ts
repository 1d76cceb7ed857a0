import type { AppDeps } from './deps.ts';
import { DomainError } from '../domain/errors.ts';
import { makeSlug } from '../domain/slug.ts';
import { readProfile } from '../bluesky/profile.ts';
import { applyProfile, linkBluesky, markClaimed, upsertBlueskyUser, userByDid, userById } from '../db/users.ts';
import { requestSync } from '../temporal/signals.ts';
import { requireUser } from './access.ts';
import { toUserJson } from './answers.ts';
import { mintToken, readAuth } from './auth.ts';
import { operationReader } from './operation-reader.ts';

/**
 * What a Bluesky login does once the identity is proven: links the user by DID (an existing user,
 * a shadow account upgraded in place, or a new one; a signed-in caller links Bluesky to their own
 * account, and a shadow account holding the DID is claimed into theirs) and answers a meetflow
 * token with the operation it started.
 */
export function blueskyLogin({ ds, temporal, config }: AppDeps) {
  const operations = operationReader({ ds, temporal, config });
  const answer = async (userId: string, ops: { id: string; type: string }[] = []) => {
    const row = (await userById(ds, userId))!;
    return { token: await mintToken(config, { sub: row.id }, 24 * 3600), user: toUserJson(row), operations: ops };
  };

  async function linkUser(identity: { did: string; handle: string; pds: string }, callerId: string | null) {
    const holder = await userByDid(ds, identity.did);
    if (holder?.isShadowAccount && (callerId || holder.claimedBy)) {
      // A shadow account becomes the caller's (or is being claimed right now: that claim is the answer).
      const claimant = (callerId ?? holder.claimedBy)!;
      if (!await markClaimed(ds, holder.id, claimant)) throw new DomainError('claim_in_progress', `another account is claiming ${identity.did}`);
      const op = await operations.start('claim-account', identity.did,
        { did: identity.did, shadowId: holder.id, userId: claimant, handle: identity.handle, pdsUrl: identity.pds }, claimant);
      return answer(claimant, [{ id: op.id, type: op.type }]);
    }
    if (callerId && holder && holder.id !== callerId) {
      throw new DomainError('bluesky_account_linked', `${identity.handle} is linked to another meetflow account`);
    }
    const sync = async () => [{ id: await requestSync(temporal, config, identity.did), type: 'bsky-sync' }];
    if (callerId) {
      await linkBluesky(ds, callerId, identity);
      await refreshProfile(callerId, identity);
      return answer(callerId, await sync());
    }
    const userId = await upsertBlueskyUser(ds, { slug: makeSlug(identity.handle), handle: identity.handle, did: identity.did, pdsUrl: identity.pds });
    await refreshProfile(userId, identity);
    return answer(userId, await sync());
  }

  /** The Bluesky profile's name and avatar, at every login (applyProfile says which wins). */
  async function refreshProfile(userId: string, identity: { did: string; pds: string }) {
    const profile = await readProfile(identity.pds, identity.did);
    if (profile) await applyProfile(ds, userId, profile);
  }

  /** A signed-in caller (optional on the login routes): must be a known user. */
  async function caller(header: string | undefined): Promise<string | null> {
    const auth = await readAuth(header, config);
    return auth ? (await requireUser(ds, auth)).id : null;
  }

  return { linkUser, caller };
}

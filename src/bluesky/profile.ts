import { line } from '../domain/fields.ts';

const PROFILE_TIMEOUT_MS = 5000;
const PROFILE_MAX_BYTES = 64 * 1024;
const CID = /^[a-z0-9]{20,120}$/;

export interface BlueskyProfile { displayName: string | null; avatarUrl: string | null }

/**
 * The user's `app.bsky.actor.profile/self` record, read from their PDS (public, no session).
 * The PDS is untrusted: the read is bounded in time and size, and what it says is checked; a PDS
 * that fails, stalls or answers nonsense yields null (a login does not depend on it).
 */
export async function readProfile(pds: string, did: string): Promise<BlueskyProfile | null> {
  try {
    const url = new URL('/xrpc/com.atproto.repo.getRecord', pds);
    url.search = new URLSearchParams({ repo: did, collection: 'app.bsky.actor.profile', rkey: 'self' }).toString();
    const res = await fetch(url, { signal: AbortSignal.timeout(PROFILE_TIMEOUT_MS), redirect: 'error' });
    if (!res.ok || Number(res.headers.get('content-length') ?? 0) > PROFILE_MAX_BYTES) return null;
    const text = await res.text();
    if (text.length > PROFILE_MAX_BYTES) return null;
    const value = (JSON.parse(text) as { value?: { displayName?: unknown; avatar?: { ref?: { $link?: unknown } } } }).value;
    const name = line(200).safeParse(typeof value?.displayName === 'string' ? value.displayName.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, 200) : null);
    const cid = value?.avatar?.ref?.$link;
    const avatar = typeof cid === 'string' && CID.test(cid)
      ? `${new URL('/xrpc/com.atproto.sync.getBlob', pds)}?${new URLSearchParams({ did, cid })}`
      : null;
    return { displayName: name.success && name.data ? name.data : null, avatarUrl: avatar };
  } catch {
    return null;
  }
}

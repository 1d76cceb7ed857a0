import { describe, expect, it } from 'vitest';
import { P256Keypair, Secp256k1Keypair, verifySignature as jsVerify } from '@atproto/crypto';
import { BlockMap, MemoryBlockstore, Repo, WriteOpAction, type CommitData } from '@atproto/repo';
import { Firehose, type CommitEvt } from '@atproto/sync';
import { AtUri } from '@atproto/syntax';
import { EVENT_COLLECTION } from '../../src/domain/lexicon.ts';
import { SECP256K1_NATIVE, verifySignature, verifyWithOpenSsl } from '../../src/firehose/signatures.ts';
import { verifyChange } from '../../src/firehose/verify-commit.ts';
import { calendarOnly } from '../../src/firehose/consumer.ts';
import type { IdResolver } from '@atproto/identity';

const did = 'did:plc:author';
const record = (name: string) => ({ $type: EVENT_COLLECTION, name, createdAt: '2030-01-01T00:00:00.000Z' });

/** A change as the firehose hands it over: the commit's blocks with the proof of its path. */
async function change(repo: Repo, commit: CommitData, event: 'create' | 'delete', rkey: string): Promise<CommitEvt> {
  const blocks = new BlockMap();
  blocks.addMap(commit.newBlocks);
  blocks.addMap(commit.relevantBlocks);
  const meta = {
    seq: 1, time: new Date().toISOString(), commit: commit.cid, blocks, rev: commit.rev,
    uri: AtUri.make(did, EVENT_COLLECTION, rkey), did, collection: EVENT_COLLECTION, rkey,
  } as const;
  if (event === 'delete') return { ...meta, event } as CommitEvt;
  return { ...meta, event, record: record(rkey), cid: (await repo.data.get(`${EVENT_COLLECTION}/${rkey}`))! } as CommitEvt;
}

describe('verifyChange: a firehose change against its author\'s signed commit', () => {
  it('holds for the author\'s key (once per commit), refetches a rotated key once, and refuses another key, author, record or a delete that did not happen', async () => {
    const author = await Secp256k1Keypair.create();
    const stranger = await Secp256k1Keypair.create();
    let repo = await Repo.create(new MemoryBlockstore(), did, author);
    const created = await repo.formatCommit({ action: WriteOpAction.Create, collection: EVENT_COLLECTION, rkey: 'a', record: record('a') }, author);
    repo = await repo.applyCommit(created);
    const evt = await change(repo, created, 'create', 'a');

    await expect(verifyChange(evt, async () => stranger.did())).rejects.toThrow(/Invalid signature/);
    const asked: boolean[] = [];
    await expect(verifyChange(evt, async (_did, fresh) => { asked.push(fresh); return fresh ? author.did() : stranger.did(); })).resolves.toBeUndefined();
    expect(asked).toEqual([false, true]); // the cached key was old: fetched again once
    await expect(verifyChange(evt, async () => { asked.push(true); return stranger.did(); })).resolves.toBeUndefined();
    expect(asked).toHaveLength(2); // a commit's signature is checked once, not again for each of its changes
    await expect(verifyChange({ ...evt, did: 'did:plc:someone-else' }, async () => author.did())).rejects.toThrow(/Invalid repo did/);
    await expect(verifyChange({ ...evt, blocks: new BlockMap() }, async () => author.did())).rejects.toThrow(); // no commit block: refused, not waited for
    const other = await repo.formatCommit({ action: WriteOpAction.Create, collection: EVENT_COLLECTION, rkey: 'b', record: record('b') }, author);
    const otherRecord = (await change(await repo.applyCommit(other), other, 'create', 'b')) as CommitEvt & { cid: unknown };
    await expect(verifyChange({ ...evt, cid: otherRecord.cid } as CommitEvt, async () => author.did())).rejects.toThrow(/does not hold/);
    await expect(verifyChange({ ...evt, event: 'delete' } as CommitEvt, async () => author.did())).rejects.toThrow(/does not hold/);

    const deleted = await repo.formatCommit({ action: WriteOpAction.Delete, collection: EVENT_COLLECTION, rkey: 'a' }, author);
    repo = await repo.applyCommit(deleted);
    await expect(verifyChange(await change(repo, deleted, 'delete', 'a'), async () => author.did())).resolves.toBeUndefined();
  });

  it('checks signatures by atproto\'s rules, like @atproto/crypto, natively and with OpenSSL: valid ones pass, changed data, a flipped bit, the high-S twin or r, s out of range do not', async () => {
    if (process.platform === 'linux' && process.arch === 'x64') expect(SECP256K1_NATIVE).toBe(true); // the add-on's prebuilt build loads here
    for (const [keypair, order] of [
      [await Secp256k1Keypair.create(), 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n],
      [await P256Keypair.create(), 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n],
    ] as const) {
      for (let i = 0; i < 20; i++) {
        const data = Buffer.from(`commit ${i}`);
        const sig = await keypair.sign(data);
        const s = BigInt(`0x${Buffer.from(sig.subarray(32)).toString('hex')}`);
        const highS = Buffer.concat([sig.subarray(0, 32), Buffer.from((order - s).toString(16).padStart(64, '0'), 'hex')]);
        const flipped = Buffer.from(sig);
        flipped[7] ^= 1;
        const outOfRange = Buffer.concat([Buffer.from(order.toString(16), 'hex'), sig.subarray(32)]); // r = the order
        const cases = [[data, sig, true], [Buffer.from(`commit ${i}!`), sig, false], [data, flipped, false], [data, highS, false], [data, outOfRange, false], [data, Buffer.alloc(64), false]] as const;
        for (const [d, sg, valid] of cases) {
          expect(verifySignature(keypair.did(), d, sg)).toBe(valid);
          expect(verifyWithOpenSsl(keypair.did(), d, sg)).toBe(valid);
          expect(await jsVerify(keypair.did(), d, sg).catch(() => false)).toBe(valid); // it throws on r, s out of range
        }
      }
    }
  });
});

describe('the consumer\'s subscription', () => {
  it('drops a commit without a calendar change before reading its blocks; a calendar change is parsed (here: refused)', async () => {
    const errors: Error[] = [];
    const f = calendarOnly(new Firehose({
      idResolver: {} as IdResolver, unauthenticatedCommits: true, filterCollections: [EVENT_COLLECTION], handleEvent: () => undefined, onError: (err) => errors.push(err),
    }));
    const commit = (path: string) => ({
      $type: 'com.atproto.sync.subscribeRepos#commit', seq: 1, repo: did, commit: null, rev: '3k', since: null, blocks: new Uint8Array([1, 2, 3]), // not a CAR
      ops: [{ action: 'create', path, cid: null }], blobs: [], time: new Date().toISOString(), rebase: false, tooBig: false,
    });
    const parse = (evt: unknown) => (f as unknown as { parseEvt: (e: unknown) => Promise<unknown[]> }).parseEvt(evt);
    expect(await parse(commit('app.bsky.feed.post/3k'))).toEqual([]);
    expect(errors).toEqual([]); // its garbage blocks were never read
    expect(await parse(commit(`${EVENT_COLLECTION}/3k`))).toEqual([]);
    expect(errors).toHaveLength(1); // read, and refused as unparseable
  });

  it('validates every message but a commit without a calendar change, which is read for its repo and seq only', () => {
    const errors: Error[] = [];
    const f = calendarOnly(new Firehose({
      idResolver: {} as IdResolver, unauthenticatedCommits: true, filterCollections: [EVENT_COLLECTION], handleEvent: () => undefined, onError: (err) => errors.push(err),
    }));
    const validate = (f as unknown as { sub: { opts: { validate: (value: unknown) => unknown } } }).sub.opts.validate;
    // `commit: null` is not a valid commit message: only what is validated is refused.
    const commit = (path: unknown, seq: unknown = 1) => ({ $type: 'com.atproto.sync.subscribeRepos#commit', seq, repo: did, commit: null, ops: [{ action: 'create', path, cid: null }] });
    const foreign = commit('app.bsky.feed.like/3k');
    expect(validate(foreign)).toBe(foreign);
    expect(errors).toEqual([]);
    for (const bad of [commit(`${EVENT_COLLECTION}/3k`), commit('app.bsky.feed.like/3k', 1.5), commit('app.bsky.feed.like/3k', '7'), commit(7), { ...foreign, repo: 7 }]) {
      expect(validate(bad)).toBeUndefined();
    }
    expect(errors.map((e) => e.constructor.name)).toEqual(Array(5).fill('FirehoseValidationError'));
  });
});

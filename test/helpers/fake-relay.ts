import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Secp256k1Keypair } from '@atproto/crypto';
import { BlockMap, blocksToCarFile, MemoryBlockstore, Repo, WriteOpAction, type RecordCreateOp } from '@atproto/repo';
import { MessageFrame, XrpcStreamServer } from '@atproto/xrpc-server';

/** An author whose commits the relay signs: its DID (did:key by default, or one given, such as a did:web) and key. */
export interface RelayAuthor { did: string; keypair: Secp256k1Keypair; storage: MemoryBlockstore; repo: Repo | null }

/**
 * A relay serving `com.atproto.sync.subscribeRepos` from commits built and signed here, for
 * authors a real PDS cannot host (a did:web whose host the test controls). Resumes from the
 * cursor a reconnect asks for, like a relay; without one it starts at the first commit.
 */
export class FakeRelay {
  private readonly frames: { seq: number; frame: MessageFrame }[] = [];
  private wake: (() => void)[] = [];
  private readonly http: Server;
  private readonly stream: XrpcStreamServer;
  private constructor(http: Server, stream: XrpcStreamServer) { this.http = http; this.stream = stream; }

  static async start(): Promise<FakeRelay> {
    const http = createServer();
    let relay!: FakeRelay;
    const stream = new XrpcStreamServer({ server: http, handler: (req: IncomingMessage, signal: AbortSignal) => relay.from(new URL(req.url!, 'http://x').searchParams.get('cursor'), signal) });
    relay = new FakeRelay(http, stream);
    await new Promise<void>((ok) => http.listen(0, '127.0.0.1', ok));
    return relay;
  }

  /** The sequence number of the last commit put on the stream. */
  get lastSeq(): number { return this.frames.length; }

  get url(): string { return `ws://127.0.0.1:${(this.http.address() as AddressInfo).port}`; }

  async author(did?: string): Promise<RelayAuthor> {
    const keypair = await Secp256k1Keypair.create({ exportable: true });
    return { did: did ?? keypair.did(), keypair, storage: new MemoryBlockstore(), repo: null };
  }

  /** Commits the record to the author's repo and puts the commit on the stream; answers its URI. */
  async create(a: RelayAuthor, collection: RecordCreateOp['collection'], rkey: string, record: Record<string, unknown>): Promise<string> {
    const write: RecordCreateOp = { action: WriteOpAction.Create, collection, rkey, record: record as RecordCreateOp['record'] };
    const commit = a.repo ? await a.repo.formatCommit(write, a.keypair) : await Repo.formatInitCommit(a.storage, a.did, a.keypair, [write]);
    a.repo = a.repo ? await a.repo.applyCommit(commit) : await Repo.createFromCommit(a.storage, commit);
    const path = `${collection}/${rkey}`;
    const blocks = new BlockMap();
    blocks.addMap(commit.newBlocks);
    blocks.addMap(commit.relevantBlocks);
    const seq = this.frames.length + 1;
    this.frames.push({ seq, frame: new MessageFrame({
      seq, repo: a.did, commit: commit.cid, rev: commit.rev, since: commit.since, blocks: await blocksToCarFile(commit.cid, blocks),
      ops: [{ action: 'create', path, cid: (await a.repo.data.get(path))! }], rebase: false, tooBig: false, blobs: [], time: new Date().toISOString(),
    }, { type: '#commit' }) });
    for (const w of this.wake.splice(0)) w();
    return `at://${a.did}/${path}`;
  }

  private async *from(cursor: string | null, signal: AbortSignal): AsyncGenerator<MessageFrame> {
    let next = cursor === null ? 0 : this.frames.findIndex((f) => f.seq > Number(cursor));
    if (next < 0) next = this.frames.length;
    while (!signal.aborted) {
      while (next < this.frames.length) yield this.frames[next++].frame;
      await new Promise<void>((ok) => { this.wake.push(ok); signal.addEventListener('abort', () => ok(), { once: true }); });
    }
  }

  async close(): Promise<void> {
    for (const ws of this.stream.wss.clients) ws.terminate();
    await new Promise((ok) => this.stream.wss.close(ok));
    await new Promise((ok) => this.http.close(ok));
  }
}

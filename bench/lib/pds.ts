// Starts bench/lib/pds-server.ts as a child process and talks to it over its stdin and stdout.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { AtpAgent } from '@atproto/api';
import { IdResolver } from '@atproto/identity';
import { Firehose, MemoryRunner } from '@atproto/sync';

export interface BenchPds {
  pds: string; plc: string;
  /** The latest sequence number of its firehose. */
  head: () => Promise<number>;
  /** `n` accounts `<name>-<i>.test`, logged in. */
  accounts: (n: number, name: string) => Promise<AtpAgent[]>;
  /**
   * Reads its firehose once to the head, handling nothing: the PDS serves a backlog faster the
   * second time (4.5k, then 5.6k, then 6.9k frames/s), so the first timed reader is not the slower for being first.
   * Answers the head it read to.
   */
  readBacklog: () => Promise<number>;
  close: () => void;
}

export async function startPds(): Promise<BenchPds> {
  const child = spawn(process.execPath, [new URL('./pds-server.ts', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => { const { value, done } = await lines.next(); if (done) throw new Error('the PDS process ended'); return value as string; };
  const { pds, plc } = JSON.parse(await next());
  const head = async () => { child.stdin.write('head\n'); return Number(await next()); };
  return {
    pds, plc, head,
    accounts: async (n, name) => {
      const agents: AtpAgent[] = [];
      for (let i = 0; i < n; i++) {
        const agent = new AtpAgent({ service: pds });
        await agent.createAccount({ handle: `${name}-${i}.test`, email: `${name}-${i}@test.com`, password: 'pw-123456' });
        agents.push(agent);
      }
      return agents;
    },
    readBacklog: async () => {
      const last = await head();
      const runner = new MemoryRunner({ startCursor: 0 });
      const firehose = new Firehose({
        idResolver: new IdResolver({ plcUrl: plc }), service: pds.replace(/^http/, 'ws'), runner,
        excludeCommit: true, excludeIdentity: true, excludeAccount: true, excludeSync: true, handleEvent: () => undefined, onError: (err) => console.error(err.message),
      });
      void firehose.start();
      while ((runner.getCursor() ?? 0) < last) await new Promise((r) => setTimeout(r, 5));
      await firehose.destroy();
      return last;
    },
    close: () => child.stdin.end(),
  };
}

// Starts bench/lib/pds-server.ts as a child process and talks to it over its stdin and stdout.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { AtpAgent } from '@atproto/api';

export interface BenchPds {
  pds: string; plc: string;
  /** The latest sequence number of its firehose. */
  head: () => Promise<number>;
  /** `n` accounts `<name>-<i>.test`, logged in. */
  accounts: (n: number, name: string) => Promise<AtpAgent[]>;
  close: () => void;
}

export async function startPds(): Promise<BenchPds> {
  const child = spawn(process.execPath, [new URL('./pds-server.ts', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => { const { value, done } = await lines.next(); if (done) throw new Error('the PDS process ended'); return value as string; };
  const { pds, plc } = JSON.parse(await next());
  return {
    pds, plc,
    head: async () => { child.stdin.write('head\n'); return Number(await next()); },
    accounts: async (n, name) => {
      const agents: AtpAgent[] = [];
      for (let i = 0; i < n; i++) {
        const agent = new AtpAgent({ service: pds });
        await agent.createAccount({ handle: `${name}-${i}.test`, email: `${name}-${i}@test.com`, password: 'pw-123456' });
        agents.push(agent);
      }
      return agents;
    },
    close: () => child.stdin.end(),
  };
}

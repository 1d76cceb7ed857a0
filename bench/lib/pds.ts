// Starts bench/lib/pds-server.ts as a child process and talks to it over its stdin and stdout.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export async function startPds(): Promise<{ pds: string; plc: string; head: () => Promise<number>; close: () => void }> {
  const child = spawn(process.execPath, [new URL('./pds-server.ts', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => { const { value, done } = await lines.next(); if (done) throw new Error('the PDS process ended'); return value as string; };
  const { pds, plc } = JSON.parse(await next());
  return {
    pds, plc,
    head: async () => { child.stdin.write('head\n'); return Number(await next()); },
    close: () => child.stdin.end(),
  };
}

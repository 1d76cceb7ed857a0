import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { eventually, type Stack } from './stack.ts';

/** The real worker (`node src/worker/main.ts`) as its own process, on the stack's task queue (to be killed). */
export async function spawnWorker(s: Stack, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['src/worker/main.ts'], {
    env: {
      ...process.env, LOG_FILE: '', TEMPORAL_TASK_QUEUE: s.config.TEMPORAL_TASK_QUEUE, WORKFLOW_BUNDLE_PATH: s.config.WORKFLOW_BUNDLE_PATH,
      WORKER_SHUTDOWN_GRACE: '20s', BLUESKY_SERVICE: s.config.BLUESKY_SERVICE, BLUESKY_PLC_URL: s.config.BLUESKY_PLC_URL, ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = { text: '' };
  child.stdout.on('data', (d) => { log.text += d; });
  child.stderr.on('data', (d) => { log.text += d; });
  const exited = once(child, 'exit');
  await eventually(async () => log.text.includes('worker polling'), { timeoutMs: 60_000 });
  return { child, log, exited };
}

import { setTimeout as sleep } from 'node:timers/promises';
import { log } from './logger.ts';

/**
 * Retries `step` with backoff (1 s doubling to 30 s) until it succeeds, or answers null once
 * `stopping()` says the process is told to stop. Processes wait out a dependency this way (at
 * start, or after losing it) instead of exiting.
 */
export async function waitFor<T>(who: string, what: string, step: () => Promise<T>, stopping: () => boolean): Promise<T | null> {
  for (let delay = 1000; !stopping(); delay = Math.min(delay * 2, 30_000)) {
    try {
      return await step();
    } catch (err) {
      log.warn({ who, dependency: what, reason: (err as Error).message.split('\n')[0], retryInS: delay / 1000 }, `${what} unavailable; retrying`);
      await sleep(delay);
    }
  }
  return null;
}

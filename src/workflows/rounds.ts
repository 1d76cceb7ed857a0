import { allHandlersFinished, condition, setHandler, workflowInfo, type SignalDefinition } from '@temporalio/workflow';

/** What a round asks for next: wait for a signal, stop, or run again at `at` (ms since epoch) unless a signal comes first. */
export type RoundOutcome = 'continue' | 'stop' | { at: number };

/**
 * The loop of the per-entity workflows (`waitlist:<slug>`, `chat-room:<slug>`, the Bluesky
 * publishers): every burst of `signal`s causes one `round`, in order, one at a time. A round may
 * also ask to run again at a time (a durable timer). It returns when a round says `stop`, or
 * after `idleTimeout` without signals or timer (the next change starts a new run with
 * signal-with-start). When history grows long it hands over to `continueAsNew`, telling the
 * next run whether a signal is still waiting.
 */
export async function signalledRounds(opts: {
  signal: SignalDefinition<[]>;
  idleTimeout: string;
  pendingAtStart?: boolean;
  round: () => Promise<RoundOutcome>;
  continueAsNew: (pending: boolean) => Promise<never>;
}): Promise<void> {
  let pending = opts.pendingAtStart ? 1 : 0;
  let at: number | null = null;
  setHandler(opts.signal, () => { pending++; });
  for (;;) {
    const signalled = await condition(() => pending > 0, at === null ? opts.idleTimeout as '1 hour' : Math.max(at - Date.now(), 1));
    if (!signalled && at === null) break;
    pending = 0; // one round covers every change signalled so far
    const outcome = await opts.round();
    if (outcome === 'stop') break;
    at = typeof outcome === 'object' ? outcome.at : null;
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await opts.continueAsNew(pending > 0);
    }
  }
  await condition(allHandlersFinished);
}

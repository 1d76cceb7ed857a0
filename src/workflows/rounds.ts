import { allHandlersFinished, condition, setHandler, workflowInfo, type SignalDefinition } from '@temporalio/workflow';

/**
 * The loop of the per-entity workflows (`waitlist:<slug>`, `chat-room:<slug>`): every burst of
 * `signal`s causes one `round`, in order, one at a time. It returns when a round says `stop`,
 * or after `idleTimeout` without signals (the next change starts a new run with
 * signal-with-start). When history grows long it hands over to `continueAsNew`, telling the
 * next run whether a signal is still waiting.
 */
export async function signalledRounds(opts: {
  signal: SignalDefinition<[]>;
  idleTimeout: string;
  pendingAtStart?: boolean;
  round: () => Promise<'continue' | 'stop'>;
  continueAsNew: (pending: boolean) => Promise<never>;
}): Promise<void> {
  let pending = opts.pendingAtStart ? 1 : 0;
  setHandler(opts.signal, () => { pending++; });
  for (;;) {
    if (!(await condition(() => pending > 0, opts.idleTimeout as '1 hour'))) break;
    pending = 0; // one round covers every change signalled so far
    if ((await opts.round()) === 'stop') break;
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await opts.continueAsNew(pending > 0);
    }
  }
  await condition(allHandlersFinished);
}

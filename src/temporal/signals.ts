import type { Client } from '@temporalio/client';
import type { Config } from '../config.ts';
import type { waitlistWorkflow } from '../workflows/waitlist.ts';
import { OPERATION_TYPES, SIGNALS } from './operations.ts';
import { operationOptions } from './client.ts';

/** Seats may have been freed: start `waitlist:<slug>` or wake the running one. */
export async function notifySeatsChanged(client: Client, config: Config, eventSlug: string): Promise<string> {
  const handle = await client.workflow.signalWithStart<typeof waitlistWorkflow, []>(
    OPERATION_TYPES.waitlist.workflowType, {
      ...operationOptions(config, 'waitlist', eventSlug),
      args: [{ eventSlug }],
      signal: SIGNALS.seatsChanged,
      signalArgs: [],
    });
  return handle.workflowId;
}

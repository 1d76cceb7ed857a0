import { Client, Connection, WorkflowIdConflictPolicy } from '@temporalio/client';
import type { Config } from '../config.ts';
import { OPERATION_TYPES, operationTags, type OperationType } from './operations.ts';

/** Lazy: the API starts (and reports not-ready) while Temporal is still coming up. */
export function createTemporalClient(config: Config): Client {
  return new Client({ connection: Connection.lazy({ address: config.TEMPORAL_ADDRESS }), namespace: config.TEMPORAL_NAMESPACE });
}

/** The options every meetflow operation starts with: id, queue, search attributes, UI summary. */
export function operationOptions(config: Config, type: OperationType, entitySlug: string, kind: string = OPERATION_TYPES[type].entityKind) {
  return { ...operationTags(type, entitySlug, kind), taskQueue: config.TEMPORAL_TASK_QUEUE };
}

/**
 * Starts `<type>:<slug>` with `args`; one already running under that id is the answer. Answers the
 * id. `requestedBy` (a user id, kept in the memo) may read the operation after its entity is gone.
 */
export async function startOperation(
  client: Client, config: Config, type: OperationType, entitySlug: string, args: unknown[], requestedBy?: string,
): Promise<string> {
  const handle = await client.workflow.start(OPERATION_TYPES[type].workflowType, {
    ...operationOptions(config, type, entitySlug), workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING, args,
    ...(requestedBy ? { memo: { requestedBy } } : {}),
  });
  return handle.workflowId;
}

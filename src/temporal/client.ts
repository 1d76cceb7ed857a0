import { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy, type WorkflowHandle } from '@temporalio/client';
import type { Config } from '../config.ts';
import { clientInterceptors } from './request-id-interceptors.ts';
import {
  OPERATION_TYPES, operationId, operationTags, type OperationInput, type OperationType, type SignalArgs, type SignalOf, type WakeableType,
} from './contracts.ts';

/** Lazy: the API starts (and reports not-ready) while Temporal is still coming up. */
export function createTemporalClient(config: Config): Client {
  return new Client({
    connection: Connection.lazy(config.TEMPORAL_CONNECTION), namespace: config.TEMPORAL_NAMESPACE,
    interceptors: { workflow: clientInterceptors() },
  });
}

/** The options every meetflow operation starts with: id, queue, search attributes, UI summary. */
function operationOptions(config: Config, type: OperationType, entitySlug: string, kind: string = OPERATION_TYPES[type].entityKind) {
  return { ...operationTags(type, entitySlug, kind), taskQueue: config.TEMPORAL_TASK_QUEUE };
}

/**
 * Starts `<type>:<slug>` with `input`; one already running under that id is the answer. Answers the
 * id. `requestedBy` (a user id, kept in the memo) may read the operation after its entity is gone.
 */
export async function startOperation<T extends OperationType>(
  client: Client, config: Config, type: T, entitySlug: string, input: OperationInput<T>, requestedBy?: string,
): Promise<string> {
  const handle = await client.workflow.start(OPERATION_TYPES[type].workflowType, {
    ...operationOptions(config, type, entitySlug), workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING, args: [input],
    ...(requestedBy ? { memo: { requestedBy } } : {}),
  });
  return handle.workflowId;
}

/**
 * Starts `<type>:<slug>` with `input`, or wakes the running one, with the type's signal
 * (signal-with-start: durable once this returns). Answers the id.
 */
export async function wakeOperation<T extends WakeableType>(
  client: Client, config: Config, type: T, entitySlug: string, input: OperationInput<T>,
  opts: { kind?: string; signalArgs?: SignalArgs[SignalOf<T>] } = {},
): Promise<string> {
  const handle = await client.workflow.signalWithStart(OPERATION_TYPES[type].workflowType, {
    ...operationOptions(config, type, entitySlug, opts.kind), args: [input],
    signal: OPERATION_TYPES[type].signal, signalArgs: (opts.signalArgs ?? []) as unknown[],
  });
  return handle.workflowId;
}

/**
 * Starts `<type>:<slug>` once no run of it is open: a running one (also one started before this
 * process restarted) is waited for first, so runs under one id follow each other like a queue.
 * Durable once it returns.
 */
export async function startNextRun<T extends OperationType>(
  client: Client, config: Config, type: T, entitySlug: string, input: OperationInput<T>,
): Promise<WorkflowHandle> {
  for (;;) {
    try {
      return await client.workflow.start(OPERATION_TYPES[type].workflowType, {
        ...operationOptions(config, type, entitySlug), workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL, args: [input],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      await client.workflow.getHandle(operationId(type, entitySlug)).result().catch(() => undefined); // ended, however
    }
  }
}

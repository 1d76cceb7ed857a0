import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config.ts';
import { ENTITY, OPERATION } from './search-attributes.ts';
import { OPERATION_TYPES, operationId, type OperationType } from './operations.ts';

/** Lazy: the API starts (and reports not-ready) while Temporal is still coming up. */
export function createTemporalClient(config: Config): Client {
  return new Client({ connection: Connection.lazy({ address: config.TEMPORAL_ADDRESS }), namespace: config.TEMPORAL_NAMESPACE });
}

/** The options every meetflow operation starts with: id, queue, search attributes, UI summary. */
export function operationOptions(config: Config, type: OperationType, entitySlug: string, kind: string = OPERATION_TYPES[type].entityKind) {
  return {
    workflowId: operationId(type, entitySlug),
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    typedSearchAttributes: [
      { key: OPERATION, value: type },
      { key: ENTITY, value: `${kind}:${entitySlug}` },
    ],
    staticSummary: `${type} ${kind} ${entitySlug}`,
  };
}

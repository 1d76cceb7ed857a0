import { describe, expect, it } from 'vitest';
import * as workflows from '../../src/workflows/index.ts';
import { OPERATION_TYPES, type OperationInput, type OperationType } from '../../src/temporal/contracts.ts';

type Registered = typeof workflows;
type WorkflowOf<T extends OperationType> = Registered[(typeof OPERATION_TYPES)[T]['workflowType']];
type Accepts = { [T in OperationType]: WorkflowOf<T> extends (input: OperationInput<T>) => Promise<unknown> ? true : false };
/** Fails to compile (`true` is not `false`) when a workflow would not accept what its callers give it. */
const everyWorkflowAcceptsItsInput: Accepts[OperationType] extends true ? true : false = true;

describe('the Temporal contracts', () => {
  it('name a registered workflow for every operation type, and nothing registered is left without a type', () => {
    const named = Object.values(OPERATION_TYPES).map((o) => o.workflowType).sort();
    expect(Object.keys(workflows).sort()).toEqual(named);
    for (const name of named) expect(typeof workflows[name]).toBe('function');
    expect(everyWorkflowAcceptsItsInput).toBe(true);
  });
});

import { workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { requestIdOf, withRequestId } from '../temporal/request-id.ts';

/**
 * Carries the request id from the start or signal that woke a workflow into the activities and
 * child workflows it schedules next, and into its log lines. Kept per run (the latest request wins:
 * a round works for the signal that woke it).
 */
const latest = new Map<string, string>();
const current = () => latest.get(workflowInfo().runId);
const remember = (headers: Parameters<typeof requestIdOf>[0]) => {
  const id = requestIdOf(headers);
  if (id) latest.set(workflowInfo().runId, id);
};

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [{
    async execute(input, next) {
      remember(input.headers);
      try {
        return await next(input);
      } finally {
        latest.delete(workflowInfo().runId);
      }
    },
    async handleSignal(input, next) {
      remember(input.headers);
      return next(input);
    },
  }],
  outbound: [{
    scheduleActivity: (input, next) => next({ ...input, headers: withRequestId(input.headers, current()) }),
    scheduleLocalActivity: (input, next) => next({ ...input, headers: withRequestId(input.headers, current()) }),
    startChildWorkflowExecution: (input, next) => next({ ...input, headers: withRequestId(input.headers, current()) }),
    getLogAttributes: (input, next) => next(current() ? { ...input, requestId: current() } : input),
  }],
});

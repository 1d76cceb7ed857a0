import type { WorkflowClientInterceptor } from '@temporalio/client';
import { requestContext } from '../logger.ts';
import { withRequestId } from './request-id.ts';

const fromContext = () => requestContext.getStore()?.requestId;

/** Every start or signal a client sends carries the request id of the work it is part of. */
export const requestIdClientInterceptor: WorkflowClientInterceptor = {
  startWithDetails: (input, next) => next({ ...input, headers: withRequestId(input.headers, fromContext()) }),
  signalWithStart: (input, next) => next({ ...input, headers: withRequestId(input.headers, fromContext()) }),
  signal: (input, next) => next({ ...input, headers: withRequestId(input.headers, fromContext()) }),
};

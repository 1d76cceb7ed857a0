import type { WorkflowClientInterceptor } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { requestContext } from '../logger.ts';
import { withRequestId } from './request-id.ts';

const fromContext = () => requestContext.getStore()?.requestId;

/** Every start or signal a client sends carries the request id of the work it is part of. */
export const requestIdClientInterceptor: WorkflowClientInterceptor = {
  startWithDetails: (input, next) => next({ ...input, headers: withRequestId(input.headers, fromContext()) }),
  signalWithStart: (input, next) => next({ ...input, headers: withRequestId(input.headers, fromContext()) }),
  signal: (input, next) => next({ ...input, headers: withRequestId(input.headers, fromContext()) }),
};

/** What every meetflow client sends with its calls: the request id, and the trace context (OpenTelemetry). */
export const clientInterceptors = (): WorkflowClientInterceptor[] => [requestIdClientInterceptor, new OpenTelemetryWorkflowClientInterceptor()];

import { defaultPayloadConverter, type Headers, type Payload } from '@temporalio/common';

/**
 * The request id travels with the work it causes as a Temporal header: from the API's start or
 * signal into the workflow, and from the workflow into each activity it schedules (interceptors
 * in `src/temporal/request-id-interceptors.ts`, `src/workflows/request-id.ts`, the worker).
 */
export const REQUEST_ID_HEADER = 'meetflow-request-id';

export const withRequestId = (headers: Headers, requestId: string | undefined): Headers =>
  (requestId ? { ...headers, [REQUEST_ID_HEADER]: defaultPayloadConverter.toPayload(requestId) } : headers);

export function requestIdOf(headers: Headers): string | undefined {
  const payload: Payload | undefined = headers[REQUEST_ID_HEADER];
  const value = payload ? defaultPayloadConverter.fromPayload<unknown>(payload) : undefined;
  return typeof value === 'string' ? value : undefined;
}

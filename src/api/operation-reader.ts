import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApplicationFailure, TemporalFailure, WorkflowFailedError, WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import protos, { type temporal } from '@temporalio/proto';
import { DomainError, notFound } from '../domain/errors.ts';
import { OPERATION_TYPES, PROGRESS_QUERY, parseOperationId, type OperationInput, type OperationType } from '../temporal/contracts.ts';
import { startOperation } from '../temporal/client.ts';
import { ENTITY } from '../temporal/search-attributes.ts';
import type { Auth } from './auth.ts';
import { operationAccess } from './operation-access.ts';
import type { AppDeps } from './deps.ts';
import type { Operation } from './schemas.ts';
import type { Config } from '../config.ts';
import { log } from '../logger.ts';

const QUERY_TIMEOUT_MS = 2000;
const LIST_TIMEOUT_MS = 10_000;

/** Page tokens wrapped with an HMAC over (query, token): a cursor is only ever one we issued. */
function pageCursors(secret: string) {
  const mac = (query: string, token: Buffer) => createHmac('sha256', secret).update(query).update('\0').update(token).digest().subarray(0, 16);
  return {
    seal: (token: Buffer, query: string) => Buffer.concat([mac(query, token), token]).toString('base64url'),
    open(cursor: string, query: string): Buffer | null {
      const raw = Buffer.from(cursor, 'base64url');
      const token = raw.subarray(16);
      return raw.length > 16 && timingSafeEqual(raw.subarray(0, 16), mac(query, token)) ? token : null;
    },
  };
}

const STATUS: Record<string, Operation['status']> = {
  RUNNING: 'running', CONTINUED_AS_NEW: 'running', COMPLETED: 'completed', FAILED: 'failed',
  CANCELLED: 'cancelled', TERMINATED: 'terminated', TIMED_OUT: 'timed_out',
};
/** An execution status as api.md names it (one this code does not know reads as running). */
const statusOf = (status: string): Operation['status'] => STATUS[status] ?? 'running';
export const STATUS_FILTER: Record<Operation['status'], string> = {
  running: 'Running', completed: 'Completed', failed: 'Failed', cancelled: 'Canceled',
  terminated: 'Terminated', timed_out: 'TimedOut',
};

/** What a listing or a description tells of one execution. */
interface Execution { workflowId: string; status: string; startTime: Date; closeTime?: Date; entityTag?: string; requestedBy?: string }

const decoded = (p: Payload | null | undefined) => (p ? defaultPayloadConverter.fromPayload<unknown>(p) : undefined);
const dateOf = (ts: { seconds?: { toString(): string } | null; nanos?: number | null } | null | undefined) =>
  ts ? new Date(Number(ts.seconds?.toString() ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)) : undefined;

/** The entity tag and requester of a run, from its raw search attributes and memo. */
function tagsOf(raw: { searchAttributes?: temporal.api.common.v1.ISearchAttributes | null; memo?: temporal.api.common.v1.IMemo | null } | null | undefined) {
  const tag = decoded(raw?.searchAttributes?.indexedFields?.[ENTITY.name]);
  const requestedBy = decoded(raw?.memo?.fields?.requestedBy);
  return { entityTag: typeof tag === 'string' ? tag : undefined, requestedBy: typeof requestedBy === 'string' ? requestedBy : undefined };
}

/** A row of ListWorkflowExecutions, read with the public proto and payload converter. */
function fromListing(raw: temporal.api.workflow.v1.IWorkflowExecutionInfo): Execution {
  // @temporalio/proto is CommonJS: its namespaces come through the default export under Node's ESM.
  const status = protos.temporal.api.enums.v1.WorkflowExecutionStatus[raw.status ?? 0] ?? '';
  return {
    workflowId: raw.execution?.workflowId ?? '', status: status.replace('WORKFLOW_EXECUTION_STATUS_', ''),
    startTime: dateOf(raw.startTime) ?? new Date(0), closeTime: dateOf(raw.closeTime), ...tagsOf(raw),
  };
}

/** What DescribeWorkflowExecution tells of the run under `id`. */
async function described(handle: WorkflowHandle, id: string): Promise<Execution> {
  try {
    const info = await handle.describe();
    const memo = info.memo?.requestedBy;
    return {
      workflowId: info.workflowId, status: info.status.name, startTime: info.startTime, closeTime: info.closeTime,
      entityTag: info.typedSearchAttributes.get(ENTITY), requestedBy: typeof memo === 'string' ? memo : undefined,
    };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw notFound('operation', id);
    throw err;
  }
}

/** The innermost typed failure: the ApplicationFailure an activity or workflow threw. */
function failureOf(err: unknown): { type: string; message: string } {
  let e: unknown = err instanceof WorkflowFailedError ? err.cause : err;
  while (e instanceof TemporalFailure && !(e instanceof ApplicationFailure) && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure) return { type: e.type ?? 'ApplicationFailure', message: e.message };
  return { type: (e as Error)?.name ?? 'Error', message: (e as Error)?.message ?? String(e) };
}

/** A listing's filters and page. */
export interface ListQuery { type?: string; entity?: string; status?: Operation['status']; limit: number; cursor?: string }
export const ENTITY_FILTER = /^[a-z]+:[a-z0-9-]+$/;

/** What the reader works with: Temporal, who may read what, and the signer of its page cursors. */
interface Reader {
  temporal: Client; config: Config; mayRead: ReturnType<typeof operationAccess>; pages: ReturnType<typeof pageCursors>; uiBase: string;
}

function summary({ uiBase }: Reader, info: Execution): Operation | null {
  const parsed = parseOperationId(info.workflowId);
  if (!parsed) return null;
  const tagged = info.entityTag?.match(/^([^:]+):(.+)$/);
  const entity = tagged ? { kind: tagged[1], slug: tagged[2] } : parsed.entity;
  return {
    id: info.workflowId, type: parsed.type, status: statusOf(info.status), entity,
    startedAt: info.startTime.toISOString(), closedAt: info.closeTime?.toISOString() ?? null,
    progress: null, result: null, error: null,
    links: { self: `/v1/operations/${encodeURIComponent(info.workflowId)}`, temporalUi: `${uiBase}/${encodeURIComponent(info.workflowId)}` },
  };
}

/**
 * What waiting on a new run already learned (`firstTaskDone`): that it ended, as its history tells
 * it (not described again), with the result it completed with; `timedOut`: its first task was not
 * done within QUERY_TIMEOUT_MS (no worker polling).
 */
interface Known { execution?: Execution; completedWith?: { result: unknown }; timedOut?: boolean }

/** How a run's last event closes it (one continued as new runs on: it is described as usual). */
const CLOSED: Record<string, string> = {
  workflowExecutionCompletedEventAttributes: 'COMPLETED', workflowExecutionFailedEventAttributes: 'FAILED',
  workflowExecutionCanceledEventAttributes: 'CANCELLED', workflowExecutionTerminatedEventAttributes: 'TERMINATED',
  workflowExecutionTimedOutEventAttributes: 'TIMED_OUT',
};
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const closeStatus = (e: HistoryEvent) => Object.keys(CLOSED).find((k) => e[k as keyof HistoryEvent]);

/** A closed run as its history tells it: what `describe` would (the start's memo and entity tag, the close's time). */
function fromHistory(workflowId: string, start: HistoryEvent, close: HistoryEvent): Execution {
  return {
    workflowId, status: CLOSED[closeStatus(close)!], startTime: dateOf(start.eventTime) ?? new Date(0), closeTime: dateOf(close.eventTime),
    ...tagsOf(start.workflowExecutionStartedEventAttributes),
  };
}

/** One operation with its live progress (running) or its result/error (closed); what is `known` is not asked again. */
async function describe(r: Reader, id: string, viewer?: Auth, known: Known = {}): Promise<Operation> {
  const { temporal } = r;
  const handle = temporal.workflow.getHandle(id);
  const op = await readable(r, id, known.execution ?? await described(handle, id), viewer);
  if (op.status === 'running') {
    // No worker polling right now: progress unknown, not an error (and not waited for twice).
    op.progress = known.timedOut ? null : await temporal.connection
      .withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.query(PROGRESS_QUERY))
      .catch(() => null);
  } else if (op.status === 'completed') {
    op.result = (known.completedWith ? known.completedWith.result : await handle.result()) ?? null;
  } else {
    op.error = await handle.result().then(() => null, failureOf);
  }
  return op;
}

/** The run summarized; `not_found` when it is no operation, or one the viewer may not read. */
async function readable(r: Reader, id: string, info: Execution, viewer?: Auth): Promise<Operation> {
  const op = summary(r, info);
  if (!op || (viewer && !await r.mayRead(viewer, op.entity, info.requestedBy))) throw notFound('operation', id);
  return op;
}

/**
 * `describe`, answered once the operation has closed or `ms` have passed (a long poll: a client
 * hears of the end as it happens instead of asking again and again), or the caller hung up
 * (`gone`). Who may not read it is told so at once, and the progress of a run about to be waited
 * on is not asked for. The wait and the description after it each have their own deadline (the
 * request's covers the first reads only).
 */
async function describeWhenClosed(r: Reader, id: string, viewer: Auth, ms: number, gone: AbortSignal): Promise<Operation> {
  const execution = await described(r.temporal.workflow.getHandle(id), id);
  if (ms <= 0 || statusOf(execution.status) !== 'running') return describe(r, id, viewer, { execution });
  await readable(r, id, execution, viewer);
  const { connection } = r.temporal;
  // Waits for the close event (across continue-as-new); a failure or the wait's end is read by `describe`.
  const known: Known = await connection.withDeadline(Date.now() + ms, () => connection.withAbortSignal(gone, () => r.temporal.workflow.getHandle(id).result()))
    .then((result) => ({ completedWith: { result } }), () => ({}));
  return connection.withDeadline(Date.now() + r.config.TEMPORAL_REQUEST_TIMEOUT_MS, () => describe(r, id, viewer, known));
}

/**
 * Starts `<type>:<slug>`, or joins the one already running (the workflow id is the lock), and
 * answers what api.md calls an operation.
 */
async function start<T extends OperationType>(r: Reader, type: T, slug: string, input: OperationInput<T>, requestedBy?: string): Promise<Operation> {
  const id = await startOperation(r.temporal, r.config, type, slug, input, requestedBy);
  try {
    return await describe(r, id, undefined, await firstTaskDone(r, id));
  } catch (err) {
    // It runs: a 503 now would tell the caller it did not (and a retry might find its entity gone).
    log.warn({ err, id }, 'operation started, not described; answered as running');
    return summary(r, { workflowId: id, status: 'RUNNING', startTime: new Date() })!;
  }
}

/**
 * Waits until the run's first workflow task is done, reading its history as the server appends it:
 * a deletion is answered once its tombstone is down (the event is gone from reads when the 202
 * arrives). No worker takes part: a progress query would wait for that task as well, but one that
 * reaches a run ending in it (a small deletion does all its steps locally) makes the worker replay
 * the closed run (bench/event-deletion.ts). A run that ended is answered as its history tells it
 * (its result too), for `describe` not to ask again.
 */
async function firstTaskDone({ temporal, config }: Reader, id: string): Promise<Known> {
  const signal = AbortSignal.timeout(QUERY_TIMEOUT_MS);
  let start: HistoryEvent | undefined;
  let nextPageToken: Uint8Array | undefined;
  try {
    for (;;) {
      const page = await temporal.connection.withAbortSignal(signal, () => temporal.workflowService.getWorkflowExecutionHistory({
        namespace: config.TEMPORAL_NAMESPACE, execution: { workflowId: id }, waitNewEvent: true, nextPageToken,
      }));
      const events = page.history?.events ?? [];
      start ??= events[0];
      const close = events.find(closeStatus);
      if (close && start) {
        const completed = close.workflowExecutionCompletedEventAttributes;
        return { execution: fromHistory(id, start, close), ...(completed ? { completedWith: { result: decoded(completed.result?.payloads?.[0]) } } : {}) };
      }
      if (events.some((e) => e.workflowTaskCompletedEventAttributes) || !page.nextPageToken?.length) return {};
      nextPageToken = page.nextPageToken;
    }
  } catch {
    return { timedOut: signal.aborted };
  }
}

/**
 * A page of operations from Temporal visibility, newest first; with a viewer, only those they may
 * read (a page can then be shorter than `limit`; the cursor goes on). Cursors are signed.
 */
async function list(r: Reader, q: ListQuery, viewer?: Auth): Promise<{ items: Operation[]; nextCursor: string | null }> {
  const { temporal, config, pages, mayRead } = r;
  // Values are quoted safely: each filter is an enum or matches a strict pattern (ENTITY_FILTER).
  if (q.type && !(q.type in OPERATION_TYPES)) throw new DomainError('validation_failed', `no operation type ${q.type}`);
  if (q.entity && !ENTITY_FILTER.test(q.entity)) throw new DomainError('validation_failed', 'entity must be kind:slug');
  const clauses = [
    q.type && `MeetflowOperation = '${q.type}'`,
    q.entity && `MeetflowEntity = '${q.entity}'`,
    q.status && `ExecutionStatus = '${STATUS_FILTER[q.status]}'`,
  ].filter(Boolean);
  const query = clauses.join(' AND ');
  // Only page tokens this reader handed out (signed, for this query) reach Temporal: a forged one
  // makes its visibility store fail in ways the client retries for a long time.
  const token = q.cursor ? pages.open(q.cursor, query) : undefined;
  if (q.cursor && !token) throw new DomainError('validation_failed', 'cursor is not valid');
  const response = await temporal.connection.withDeadline(Date.now() + LIST_TIMEOUT_MS, () => temporal.workflowService.listWorkflowExecutions({
    namespace: config.TEMPORAL_NAMESPACE, query, pageSize: q.limit, nextPageToken: token,
  }));
  const nextCursor = response.nextPageToken?.length ? pages.seal(Buffer.from(response.nextPageToken), query) : null;
  const readable = await Promise.all(response.executions.map(fromListing).map(async (info) => {
    const op = summary(r, info);
    return op && (!viewer || await mayRead(viewer, op.entity, info.requestedBy)) ? op : null;
  }));
  return { items: readable.filter((o): o is Operation => o !== null), nextCursor };
}

/**
 * Reads operations (workflows) through the Temporal client: status, progress, result, error.
 * With a viewer, an operation they may not read is `not_found` (its existence is not told).
 */
export function operationReader({ ds, temporal, config }: Pick<AppDeps, 'ds' | 'temporal' | 'config'>) {
  const r: Reader = {
    temporal, config, mayRead: operationAccess(ds), pages: pageCursors(config.AUTH_JWT_SECRET),
    uiBase: `${config.TEMPORAL_UI_URL}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows`,
  };
  return {
    describe: (id: string, viewer?: Auth) => describe(r, id, viewer),
    describeWhenClosed: (id: string, viewer: Auth, ms: number, gone: AbortSignal) => describeWhenClosed(r, id, viewer, ms, gone),
    start: <T extends OperationType>(type: T, slug: string, input: OperationInput<T>, requestedBy?: string) => start(r, type, slug, input, requestedBy),
    list: (q: ListQuery, viewer?: Auth) => list(r, q, viewer),
  };
}


import type { ClaimInput } from '../db/account-claims.ts';
import type { IngestOp, LaneOp } from '../domain/ingest.ts';
import { ENTITY, OPERATION } from './search-attributes.ts';

/**
 * The Temporal boundary in one place: each operation type with its workflow, the input its
 * callers give, the signal that wakes it and the query it answers. Callers (API, follow-ups,
 * schedules) start and wake workflows through these types; no module but the worker's bundle
 * entry and the tests imports a workflow file. test/unit/contracts.test.ts holds every workflow
 * against its row.
 *
 * Workflow ids are `<operation type>:<entity key>`: the idempotency key and the lock for that
 * operation on that entity (architecture.md).
 */
export const OPERATION_TYPES = {
  waitlist: { entityKind: 'event', workflowType: 'waitlistWorkflow', signal: 'seatsChanged' },
  /** Rooms of groups use the same type; their entity kind is `group` (search attribute). */
  'chat-room': { entityKind: 'event', workflowType: 'chatRoomWorkflow', signal: 'chatSync' },
  'chat-room-delete': { entityKind: 'chat-room', workflowType: 'chatRoomDeletionWorkflow', signal: null },
  'chat-retention': { entityKind: 'system', workflowType: 'chatRetentionWorkflow', signal: null },
  /** Entity key: the run (`scheduled`, or an admin's run). */
  reconcile: { entityKind: 'system', workflowType: 'reconcileWorkflow', signal: null },
  series: { entityKind: 'series', workflowType: 'seriesWorkflow', signal: 'seriesChanged' },
  'delete-event': { entityKind: 'event', workflowType: 'deleteEventWorkflow', signal: null },
  /** Entity key: the owner's user id. The writer of that user's event records, in batches. */
  'bsky-publisher': { entityKind: 'user', workflowType: 'blueskyPublisherWorkflow', signal: 'publishEvent' },
  /** Runs started before `bsky-publisher` (one per event); nothing starts new ones. */
  'bsky-publish': { entityKind: 'event', workflowType: 'blueskyPublishWorkflow', signal: 'publish' },
  'bsky-publish-series': { entityKind: 'series', workflowType: 'blueskySeriesPublishWorkflow', signal: 'publish' },
  /** Entity key `<event slug>/<user slug>`. */
  'bsky-rsvp': { entityKind: 'attendee', workflowType: 'blueskyRsvpWorkflow', signal: 'publish' },
  /** Entity key: the record's AT-URI. */
  'bsky-ingest': { entityKind: 'record', workflowType: 'ingestWorkflow', signal: 'ingest' },
  /** Entity key: the lane's number; one batch of firehose changes at a time per lane. */
  'bsky-ingest-lane': { entityKind: 'system', workflowType: 'ingestLaneWorkflow', signal: null },
  /** Entity key: the user's DID. */
  'bsky-sync': { entityKind: 'did', workflowType: 'blueskySyncWorkflow', signal: 'syncRequested' },
  /** Entity key: the user's DID. */
  'bsky-unpublish': { entityKind: 'did', workflowType: 'blueskyUnpublishWorkflow', signal: null },
  /** Entity key: the DID being claimed. */
  'claim-account': { entityKind: 'did', workflowType: 'claimAccountWorkflow', signal: null },
  'delete-series': { entityKind: 'series', workflowType: 'deleteSeriesWorkflow', signal: null },
  'delete-group': { entityKind: 'group', workflowType: 'deleteGroupWorkflow', signal: null },
} as const;

export type OperationType = keyof typeof OPERATION_TYPES;

export type ChatTarget = { kind: 'event' | 'group'; slug: string };
export type { ClaimInput };

/**
 * What a caller gives each workflow. A workflow's own parameter may add optional fields it
 * carries across continue-as-new.
 */
export interface OperationInputs {
  waitlist: { eventSlug: string; idleTimeout?: string };
  'chat-room': ChatTarget & { idleTimeout?: string };
  'chat-room-delete': { chatRoomId: string; notice: boolean };
  'chat-retention': { retentionDays: number; dryRun?: boolean };
  reconcile: { limit?: number; staleMinutes?: number };
  /** `topUpEvery`: how often the horizon moves forward. */
  series: { seriesSlug: string; horizonDays: number; maxOccurrences: number; topUpEvery?: string };
  /** `inSeriesDeletion`: part of deleting its whole series (no exception or template bookkeeping). */
  'delete-event': { eventSlug: string; inSeriesDeletion?: boolean; batchSize?: number; maxBatchesPerActivity?: number };
  'bsky-publisher': { userId: string; idleTimeout?: string };
  'bsky-publish': { eventSlug: string; idleTimeout?: string };
  'bsky-publish-series': { seriesSlug: string; idleTimeout?: string };
  'bsky-rsvp': { eventSlug: string; userId: string; idleTimeout?: string };
  /** `parkForMs`: how long an RSVP waits for its event before it is dead-lettered (default an hour). */
  'bsky-ingest': { uri: string; idleTimeout?: string; parkForMs?: number };
  'bsky-ingest-lane': { ops: LaneOp[] };
  'bsky-sync': { did: string };
  'bsky-unpublish': { did: string };
  'claim-account': ClaimInput;
  'delete-series': { seriesSlug: string; scope: 'all' | 'future'; at?: string };
  'delete-group': { groupSlug: string };
}
export type OperationInput<T extends OperationType> = OperationInputs[T];

/** The arguments of each signal. */
export interface SignalArgs {
  seatsChanged: [];
  chatSync: [];
  seriesChanged: [];
  publish: [];
  /** The slug of the event whose record should match its row. */
  publishEvent: [string];
  ingest: [IngestOp];
  syncRequested: [];
}
export type SignalName = keyof SignalArgs;
export const SIGNALS: { [S in SignalName]: S } = { seatsChanged: 'seatsChanged', chatSync: 'chatSync', seriesChanged: 'seriesChanged', publish: 'publish', publishEvent: 'publishEvent', ingest: 'ingest', syncRequested: 'syncRequested' };

/** The types a signal wakes (signal-with-start), and the signal of each. */
export type WakeableType = { [T in OperationType]: (typeof OPERATION_TYPES)[T]['signal'] extends null ? never : T }[OperationType];
export type SignalOf<T extends WakeableType> = Exclude<(typeof OPERATION_TYPES)[T]['signal'], null>;

/** Every long-running meetflow workflow answers this query with its progress. */
export const PROGRESS_QUERY = 'progress';

export function operationId(type: OperationType, entitySlug: string): string {
  return `${type}:${entitySlug}`;
}

/** Splits an operation id into its type and entity; null if it is not one of ours. */
export function parseOperationId(id: string): { type: OperationType; entity: { kind: string; slug: string } } | null {
  const colon = id.indexOf(':');
  const type = id.slice(0, colon) as OperationType;
  if (colon < 1 || !(type in OPERATION_TYPES)) return null;
  return { type, entity: { kind: OPERATION_TYPES[type].entityKind, slug: id.slice(colon + 1) } };
}

/** Id, search attributes and UI summary of an operation; used for starts and for child workflows. */
export function operationTags(type: OperationType, entitySlug: string, kind: string = OPERATION_TYPES[type].entityKind) {
  return {
    workflowId: operationId(type, entitySlug),
    typedSearchAttributes: [
      { key: OPERATION, value: type },
      { key: ENTITY, value: `${kind}:${entitySlug}` },
    ],
    staticSummary: `${type} ${kind} ${entitySlug}`,
  };
}

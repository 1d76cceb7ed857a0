import { ENTITY, OPERATION } from './search-attributes.ts';

/**
 * Workflow ids are `<operation type>:<entity key>`: the idempotency key and the lock for that
 * operation on that entity (architecture.md). This table says which entity each type acts on.
 */
export const OPERATION_TYPES = {
  waitlist: { entityKind: 'event', workflowType: 'waitlistWorkflow' },
  /** Rooms of groups use the same type; their entity kind is `group` (search attribute). */
  'chat-room': { entityKind: 'event', workflowType: 'chatRoomWorkflow' },
  'chat-room-delete': { entityKind: 'chat-room', workflowType: 'chatRoomDeletionWorkflow' },
  'chat-retention': { entityKind: 'system', workflowType: 'chatRetentionWorkflow' },
  /** Entity key: the run (`scheduled`, or an admin's run). */
  reconcile: { entityKind: 'system', workflowType: 'reconcileWorkflow' },
  series: { entityKind: 'series', workflowType: 'seriesWorkflow' },
  'delete-event': { entityKind: 'event', workflowType: 'deleteEventWorkflow' },
  'bsky-publish': { entityKind: 'event', workflowType: 'blueskyPublishWorkflow' },
  'bsky-publish-series': { entityKind: 'series', workflowType: 'blueskySeriesPublishWorkflow' },
  /** Entity key `<event slug>/<user slug>`. */
  'bsky-rsvp': { entityKind: 'attendee', workflowType: 'blueskyRsvpWorkflow' },
  /** Entity key: the record's AT-URI. */
  'bsky-ingest': { entityKind: 'record', workflowType: 'ingestWorkflow' },
  /** Entity key: the user's DID. */
  'bsky-sync': { entityKind: 'did', workflowType: 'blueskySyncWorkflow' },
  /** Entity key: the user's DID. */
  'bsky-unpublish': { entityKind: 'did', workflowType: 'blueskyUnpublishWorkflow' },
  /** Entity key: the DID being claimed. */
  'claim-account': { entityKind: 'did', workflowType: 'claimAccountWorkflow' },
  'delete-series': { entityKind: 'series', workflowType: 'deleteSeriesWorkflow' },
  'delete-group': { entityKind: 'group', workflowType: 'deleteGroupWorkflow' },
} as const;

export type OperationType = keyof typeof OPERATION_TYPES;

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

/** Signal and query names shared by workflows and the API (which imports only @temporalio/client). */
export const SIGNALS = { seatsChanged: 'seatsChanged', chatSync: 'chatSync', seriesChanged: 'seriesChanged', publish: 'publish', ingest: 'ingest' } as const;
/** Every long-running meetflow workflow answers this query with its progress. */
export const PROGRESS_QUERY = 'progress';

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

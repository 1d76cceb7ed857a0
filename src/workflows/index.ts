// Every workflow the worker registers. Deterministic code only: no I/O, no project imports
// that do I/O (activity *types* only).
export { waitlistWorkflow } from './waitlist.ts';
export { chatRoomWorkflow } from './chat-room.ts';
export { chatRoomDeletionWorkflow, chatRetentionWorkflow } from './chat-retention.ts';
export { seriesWorkflow } from './series.ts';
export { deleteEventWorkflow, deleteSeriesWorkflow, deleteGroupWorkflow } from './deletion.ts';
export { blueskyPublisherWorkflow, blueskyPublishWorkflow, blueskyRsvpWorkflow, blueskySeriesPublishWorkflow } from './bluesky-publish.ts';
export { claimAccountWorkflow } from './claim-account.ts';
export { ingestWorkflow } from './ingest.ts';
export { ingestLaneWorkflow } from './ingest-lane.ts';
export { blueskySyncWorkflow } from './bluesky-sync.ts';
export { blueskyUnpublishWorkflow } from './bluesky-unpublish.ts';
export { reconcileWorkflow } from './reconcile.ts';

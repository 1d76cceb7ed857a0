/**
 * The type names of meetflow's ApplicationFailures: thrown by activities and workflows, listed in
 * retry policies, read by the API and the tests. A domain error raised inside an activity fails
 * with its domain code instead (src/worker/activity-failures.ts).
 */
export const FAILURE = {
  /** The user revoked meetflow at their PDS (or the session is gone): no retry can write there. */
  blueskySessionRevoked: 'BlueskySessionRevoked',
  /** A record changed between read and write (swapRecord); retried after a re-read. */
  blueskyRecordChanged: 'BlueskyRecordChanged',
  /** Some RSVP records of a deleted event could not be deleted yet (their PDS failed); retried for those. */
  rsvpRecordsPending: 'RsvpRecordsPending',
  /** The homeserver refused a request with a 4xx other than a rate limit. */
  matrixRejected: 'MatrixRejected',
  /** The homeserver asks us to slow down; retried after exactly the delay it asks for. */
  matrixRateLimited: 'MatrixRateLimited',
  chatNotConfigured: 'ChatNotConfigured',
  chatRoomNotFound: 'ChatRoomNotFound',
  seriesTemplateMissing: 'SeriesTemplateMissing',
  /** A group's events are still being deleted (retried until they are gone). */
  groupNotEmpty: 'GroupNotEmpty',
  /** A claim step that cannot succeed on a retry. */
  claimStepRejected: 'ClaimStepRejected',
  accountClaimFailed: 'AccountClaimFailed',
  eventDeletionAborted: 'EventDeletionAborted',
  cascadeDeletionIncomplete: 'CascadeDeletionIncomplete',
} as const;

import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Search attributes every meetflow workflow carries, so operators can filter in the Temporal
 * UI and `GET /v1/operations` can list by type and entity. The dev server registers them at
 * start (scripts/services.sh); docker-compose registers them with `temporal operator`.
 */
export const OPERATION = defineSearchAttributeKey('MeetflowOperation', SearchAttributeType.KEYWORD);
/** `<kind>:<slug>`, e.g. `event:summer-picnic`. */
export const ENTITY = defineSearchAttributeKey('MeetflowEntity', SearchAttributeType.KEYWORD);

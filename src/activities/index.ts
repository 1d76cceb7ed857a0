import type { Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { followUpRelay, type FollowUpRelay } from '../follow-ups/outbox.ts';
import { attendeeActivities } from './attendees.ts';
import { blueskyActivities } from './bluesky/index.ts';
import { chatActivities } from './chat/index.ts';
import { claimActivities } from './claim.ts';
import { deletionActivities } from './deletion/index.ts';
import { ingestActivities } from './ingest/index.ts';
import type { MatrixClient } from '../matrix/client.ts';
import { reconcileActivities } from './reconcile.ts';
import { seriesActivities } from './series.ts';

export interface ActivityDeps {
  ds: DataSource;
  redis: Redis;
  config: Config;
  /** For activities that start or signal other workflows. */
  temporal: Client;
  /** null when no homeserver is configured (chat disabled). */
  matrix: MatrixClient | null;
}

/** What each group of activities gets: the services, and one follow-up relay (the outbox). */
export interface WiredDeps extends ActivityDeps { followUps: FollowUpRelay }

/**
 * Every side effect lives here, grouped by the domain that owns it. Workflows type their
 * proxies from this factory's return type and never import an implementation.
 */
export function createActivities(services: ActivityDeps) {
  const deps: WiredDeps = { ...services, followUps: followUpRelay(services) };
  return {
    ...attendeeActivities(deps),
    ...chatActivities(deps),
    ...seriesActivities(deps),
    ...deletionActivities(deps),
    ...blueskyActivities(deps),
    ...claimActivities(deps),
    ...ingestActivities(deps),
    ...reconcileActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

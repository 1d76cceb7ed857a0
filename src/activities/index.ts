import type { DataSource } from 'typeorm';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { attendeeActivities } from './attendees.ts';

export interface ActivityDeps {
  ds: DataSource;
  redis: Redis;
  config: Config;
}

/**
 * Every side effect lives here, grouped by the domain that owns it. Workflows type their
 * proxies from this factory's return type and never import an implementation.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    ...attendeeActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

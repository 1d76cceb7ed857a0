import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { Config } from '../config.ts';
import type { FollowUpRelay } from '../follow-ups/outbox.ts';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AuthEnv } from './auth.ts';

/** What the API needs; tests hand in the same real services. */
export interface AppDeps {
  ds: DataSource;
  redis: Redis;
  temporal: Client;
  config: Config;
}

/** What the routes get: the services, and the API's one follow-up relay. */
export interface RouteDeps extends AppDeps { followUps: FollowUpRelay }

/** A route file's app; each route is registered by a function of its own. */
export type RouteApp = OpenAPIHono<AuthEnv>;

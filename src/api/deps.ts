import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { Config } from '../config.ts';

/** What the API needs; tests hand in the same real services. */
export interface AppDeps {
  ds: DataSource;
  redis: Redis;
  temporal: Client;
  config: Config;
}

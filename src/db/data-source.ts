import { DataSource } from 'typeorm';
import type { Pool } from 'pg';
import type { Config } from '../config.ts';
import { UserEntity } from './entities/user.ts';
import { GroupEntity, GroupMemberEntity } from './entities/group.ts';
import { EventEntity } from './entities/event.ts';
import { EventSeriesEntity, SeriesExceptionEntity } from './entities/series.ts';
import { AttendeeEntity } from './entities/attendee.ts';
import { ChatRoomEntity } from './entities/chat-room.ts';
import { FirehoseCursorEntity, IngestionDeadLetterEntity } from './entities/ingestion.ts';
import { InitialSchema1764000000000 } from './migrations/1764000000000-initial-schema.ts';
import { MatrixUserId1764000000001 } from './migrations/1764000000001-matrix-user-id.ts';
import { DeletionTombstone1764000000002 } from './migrations/1764000000002-deletion-tombstone.ts';
import { AccountClaimJournal1764000000003 } from './migrations/1764000000003-account-claim-journal.ts';
import { FollowUps1764000000004 } from './migrations/1764000000004-follow-ups.ts';
import { IdempotencyKeys1764000000005 } from './migrations/1764000000005-idempotency-keys.ts';
import { GroupMembership1764000000006 } from './migrations/1764000000006-group-membership.ts';
import { PublishChoice1764000000007 } from './migrations/1764000000007-publish-choice.ts';
import { ChatRoomPurging1764000000008 } from './migrations/1764000000008-chat-room-purging.ts';
import { EventCountry1764000000009 } from './migrations/1764000000009-event-country.ts';
import { UserAvatar1764000000010 } from './migrations/1764000000010-user-avatar.ts';
import { EventRoles1764000000011 } from './migrations/1764000000011-event-roles.ts';
import { IngestForwarded1764000000012 } from './migrations/1764000000012-ingest-forwarded.ts';
import { RsvpFunction1764000000013 } from './migrations/1764000000013-rsvp-function.ts';
import { AttendeeRsvpRecordsIndex1764000000014 } from './migrations/1764000000014-attendee-rsvp-records-index.ts';
import { ForeignKeyIndexes1764000000015 } from './migrations/1764000000015-foreign-key-indexes.ts';
import { AttendeeTallies1764000000016 } from './migrations/1764000000016-attendee-tallies.ts';
import { OccurrenceRolesExceptions1764000000017 } from './migrations/1764000000017-occurrence-roles-exceptions.ts';
import { CapacityLowered1764000000018 } from './migrations/1764000000018-capacity-lowered.ts';
import { DeletionReceipts1764000000019 } from './migrations/1764000000019-deletion-receipts.ts';
import { RsvpWriteOnce1764000000020 } from './migrations/1764000000020-rsvp-write-once.ts';
import { EventRemovalFunctions1764000000021 } from './migrations/1764000000021-event-removal-functions.ts';
import { ForwardedAuthor1764000000022 } from './migrations/1764000000022-forwarded-author.ts';

type DbConfig = Pick<Config, 'DATABASE_URL' | 'DB_POOL_MAX' | 'DB_ACQUIRE_TIMEOUT_MS' | 'DB_STATEMENT_TIMEOUT_MS' | 'DB_LOCK_TIMEOUT_MS' | 'DB_IDLE_IN_TRANSACTION_TIMEOUT_MS'>;
/** How much longer than statement_timeout the client waits for an answer (the server's own error comes first). */
const QUERY_TIMEOUT_MARGIN_MS = 5000;

/**
 * No request can hold a shared resource for ever: waiting for a pooled connection, a statement,
 * waiting for a row lock and sitting idle inside a transaction are each bounded (configurable), and
 * Postgres itself ends a transaction left idle, releasing its locks.
 */
export function createDataSource(config: DbConfig): DataSource {
  return new DataSource({
    type: 'postgres',
    url: config.DATABASE_URL,
    entities: [UserEntity, GroupEntity, GroupMemberEntity, EventEntity, EventSeriesEntity,
      SeriesExceptionEntity, AttendeeEntity, ChatRoomEntity, FirehoseCursorEntity, IngestionDeadLetterEntity],
    migrations: [InitialSchema1764000000000, MatrixUserId1764000000001, DeletionTombstone1764000000002, AccountClaimJournal1764000000003, FollowUps1764000000004,
      IdempotencyKeys1764000000005, GroupMembership1764000000006, PublishChoice1764000000007,
      ChatRoomPurging1764000000008, EventCountry1764000000009, UserAvatar1764000000010,
      EventRoles1764000000011, IngestForwarded1764000000012, RsvpFunction1764000000013,
      AttendeeRsvpRecordsIndex1764000000014, ForeignKeyIndexes1764000000015,
      AttendeeTallies1764000000016, OccurrenceRolesExceptions1764000000017, CapacityLowered1764000000018,
      DeletionReceipts1764000000019, RsvpWriteOnce1764000000020, EventRemovalFunctions1764000000021,
      ForwardedAuthor1764000000022],
    migrationsTransactionMode: 'all',
    synchronize: false,
    extra: {
      max: config.DB_POOL_MAX,
      connectionTimeoutMillis: config.DB_ACQUIRE_TIMEOUT_MS, // also bounds the wait for a free pooled connection
      statement_timeout: config.DB_STATEMENT_TIMEOUT_MS,
      // The server enforces statement_timeout, unless it has stopped answering (hung, or cut off
      // without a reset): then the client gives up a little later (a request answers 503).
      query_timeout: config.DB_STATEMENT_TIMEOUT_MS + QUERY_TIMEOUT_MARGIN_MS,
      lock_timeout: config.DB_LOCK_TIMEOUT_MS,
      idle_in_transaction_session_timeout: config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    },
  });
}

/** The pg pool behind TypeORM (its `extra` options above apply to every connection). */
export const poolOf = (ds: DataSource): Pool => (ds.driver as unknown as { master: Pool }).master;

/** The readiness check's total/idle/waiting figures. */
export function poolStats(ds: DataSource): { total: number; idle: number; waiting: number } {
  const pool = poolOf(ds);
  return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
}

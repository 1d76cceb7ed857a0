import { ApplicationFailure } from '@temporalio/activity';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config.ts';
import type { FollowUpRelay } from '../../follow-ups/outbox.ts';
import type { MatrixClient } from '../../matrix/client.ts';
import { FAILURE } from '../../temporal/failures.ts';

export interface ChatDeps { ds: DataSource; matrix: MatrixClient | null; config: Config; followUps: FollowUpRelay }

/** The homeserver; with none configured (chat disabled), a chat activity fails for good. */
export function requireHomeserver(matrix: MatrixClient | null): MatrixClient {
  if (!matrix) throw ApplicationFailure.create({ type: FAILURE.chatNotConfigured, message: 'no Matrix homeserver configured', nonRetryable: true });
  return matrix;
}

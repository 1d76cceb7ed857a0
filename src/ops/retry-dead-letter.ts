import type { Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import type { Config } from '../config.ts';
import { deadLetterById, removeDeadLetter, setDeadLetterReason } from '../db/dead-letters.ts';
import { notFound } from '../domain/errors.ts';
import { MalformedRecord, opFromRecord, repoOf, type ExternalRsvp, type IngestOp } from '../domain/ingest.ts';
import { requestIngest } from '../temporal/signals.ts';

export type RetryOutcome =
  | { id: string; outcome: 'handed-off'; operation: string }
  | { id: string; outcome: 'still-failing'; reason: string }
  | { id: string; outcome: 'not-retryable'; reason: string };

/** The ingest op a dead letter holds again, or why it holds none. */
function opOf(row: { source: string; uri: string | null; cid: string | null; collection: string | null; payload: unknown }): IngestOp | string {
  if (!row.uri || row.payload === null) return 'no record kept (an unverifiable commit): replay it by moving the cursor back';
  if (row.source === 'ingest') return { kind: 'rsvp', rsvp: row.payload as ExternalRsvp }; // an RSVP whose event never arrived
  if (!row.collection) return 'no collection kept';
  return opFromRecord({ uri: row.uri, collection: row.collection, did: repoOf(row.uri), cid: row.cid ?? undefined, record: row.payload });
}

/**
 * Hands a dead letter's record to its `bsky-ingest:<uri>` workflow again (say, after a fix to the
 * record parser, or once its event has arrived) and removes it; a record that still does not
 * parse keeps its row, with the new reason.
 */
export async function retryDeadLetter(deps: { ds: DataSource; temporal: Client; config: Config }, id: string): Promise<RetryOutcome> {
  const row = await deadLetterById(deps.ds, id);
  if (!row) throw notFound('dead letter', id);
  let op: IngestOp | string;
  try {
    op = opOf(row);
  } catch (err) {
    if (!(err instanceof MalformedRecord)) throw err;
    await setDeadLetterReason(deps.ds, id, err.message);
    return { id, outcome: 'still-failing', reason: err.message };
  }
  if (typeof op === 'string') return { id, outcome: 'not-retryable', reason: op };
  const operation = await requestIngest(deps.temporal, deps.config, row.uri!, op);
  await removeDeadLetter(deps.ds, id);
  return { id, outcome: 'handed-off', operation };
}

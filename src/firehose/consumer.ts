import type { Event } from '@atproto/sync';
import { Firehose, FirehoseParseError, MemoryRunner } from '@atproto/sync';
import type { Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import { deadLetter } from '../activities/ingest.ts';
import type { Config } from '../config.ts';
import { MalformedRecord, opFromRecord, type IngestOp } from '../domain/ingest.ts';
import { EVENT_COLLECTION, RSVP_COLLECTION } from '../domain/lexicon.ts';
import { idResolver } from '../identity.ts';
import { requestIngest } from '../temporal/signals.ts';

export interface ConsumerStats { handedOff: number; deadLettered: number; cursor: number | undefined }

/** Record values as JSON for the dead-letter table (CIDs and bytes as strings). */
const jsonSafe = (value: unknown) => JSON.parse(JSON.stringify(value ?? null, (_k, v) =>
  (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v?.asCID ? String(v) : v)));

/**
 * Subscribes to a firehose (`com.atproto.sync.subscribeRepos` of a relay or PDS; commits are
 * verified against the authors' keys) and hands every calendar event and RSVP change to its
 * `bsky-ingest:<uri>` workflow. The cursor is saved in Postgres only after the hand-off is durable
 * (signal-with-start returned) and only over a gap-free prefix of sequence numbers, so a restart
 * resumes without losing a record; records delivered twice are applied once by their workflow.
 * Records that are not valid events or RSVPs go to the dead-letter table and the stream goes on.
 */
export async function startFirehoseConsumer(deps: { ds: DataSource; temporal: Client; config: Config }, service = deps.config.FIREHOSE_SERVICE) {
  const { ds, temporal, config } = deps;
  const [saved] = await ds.query(`SELECT cursor FROM firehose_cursors WHERE service = $1`, [service]);
  const stats: ConsumerStats = { handedOff: 0, deadLettered: 0, cursor: saved ? Number(saved.cursor) : undefined };
  const runner = new MemoryRunner({
    startCursor: stats.cursor,
    setCursor: async (cursor) => {
      await ds.query(
        `INSERT INTO firehose_cursors (service, cursor) VALUES ($1, $2)
         ON CONFLICT (service) DO UPDATE SET cursor = GREATEST(firehose_cursors.cursor, EXCLUDED.cursor), updated_at = now()`, [service, cursor]);
      stats.cursor = cursor;
    },
  });

  /** Temporal unreachable: wait and try again, never skip (the cursor stays behind this record). */
  async function handOff(uri: string, op: IngestOp) {
    for (let delay = 200; ; delay = Math.min(delay * 2, 10_000)) {
      try {
        await requestIngest(temporal, config, uri, op);
        stats.handedOff++;
        return;
      } catch (err) {
        console.error(`firehose: hand-off of ${uri} failed, retrying in ${delay} ms: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  async function handleEvent(evt: Event) {
    if (evt.event !== 'create' && evt.event !== 'update' && evt.event !== 'delete') return;
    const change = {
      uri: evt.uri.toString(), collection: evt.collection, did: evt.did,
      cid: evt.event === 'delete' ? undefined : evt.cid.toString(), record: evt.event === 'delete' ? undefined : evt.record,
    };
    let op: IngestOp;
    try {
      op = opFromRecord(change);
    } catch (err) {
      if (!(err instanceof MalformedRecord)) throw err;
      await deadLetter(ds, { source: 'firehose', uri: change.uri, cid: change.cid, collection: change.collection, reason: err.message, payload: jsonSafe(change.record) });
      stats.deadLettered++;
      return;
    }
    await handOff(change.uri, op);
  }

  const firehose = new Firehose({
    idResolver: idResolver(config), service, runner, handleEvent,
    filterCollections: [EVENT_COLLECTION, RSVP_COLLECTION],
    excludeIdentity: true, excludeAccount: true, excludeSync: true,
    onError: (err) => {
      if (err instanceof FirehoseParseError) {
        void deadLetter(ds, { source: 'firehose', uri: null, reason: `unparseable commit: ${err.message}`, payload: null })
          .then(() => { stats.deadLettered++; }, () => undefined);
      }
      console.error(`firehose: ${err.message}`);
    },
  });
  void firehose.start();
  return {
    stats,
    /** Stops the subscription and lets hand-offs in flight finish (their cursor is then saved). */
    stop: () => firehose.destroy(),
  };
}

import { EntitySchema } from 'typeorm';

/** Where a firehose consumer resumes; written only after the hand-off to Temporal is durable. */
export interface FirehoseCursor {
  service: string;
  cursor: string;
  updatedAt: Date;
}

/** Records the consumer could not ingest, with the reason, so it can keep going. */
export interface IngestionDeadLetter {
  id: string;
  source: string;
  uri: string | null;
  cid: string | null;
  collection: string | null;
  reason: string;
  payload: unknown;
  createdAt: Date;
}

export const FirehoseCursorEntity = new EntitySchema<FirehoseCursor>({
  name: 'FirehoseCursor',
  tableName: 'firehose_cursors',
  columns: {
    service: { type: 'text', primary: true },
    cursor: { type: 'bigint' },
    updatedAt: { type: 'timestamptz', name: 'updated_at', updateDate: true },
  },
});

export const IngestionDeadLetterEntity = new EntitySchema<IngestionDeadLetter>({
  name: 'IngestionDeadLetter',
  tableName: 'ingestion_dead_letters',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment' },
    source: { type: 'text' },
    uri: { type: 'text', nullable: true },
    cid: { type: 'text', nullable: true },
    collection: { type: 'text', nullable: true },
    reason: { type: 'text' },
    payload: { type: 'jsonb', nullable: true },
    createdAt: { type: 'timestamptz', name: 'created_at', createDate: true },
  },
});

import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { workflowBundlePath } from '../helpers/workflow-bundle.ts';
import { quietRuntime } from '../helpers/quiet-runtime.ts';

/**
 * Histories recorded from the dev server with `temporal workflow show -w <id> -o json` (see
 * README "Replay histories"). Replaying them against today's workflow code catches changes that
 * would break running workflows; such a change needs `patched()`.
 */
const HISTORIES = [
  { file: 'waitlist.json', workflowId: 'waitlist:recorded' }, // recorded before chat: replays through patched()
  { file: 'chat-room.json', workflowId: 'chat-room:recorded' }, // a running room: three rounds of signals
  { file: 'chat-room-delete.json', workflowId: 'chat-room-delete:recorded' },
  { file: 'chat-retention.json', workflowId: 'chat-retention:recorded' },
  { file: 'series.json', workflowId: 'series:recorded' }, // created, then its rule changed (signal), waiting on its timer
  { file: 'delete-event.json', workflowId: 'delete-event:recorded' }, // an occurrence with a chat room and an attendee
  { file: 'delete-series.json', workflowId: 'delete-series:recorded' }, // scope=all, two child deletions
  // Recorded in test runs against a local PDS (client fetchHistory + historyToJSON, the same JSON).
  { file: 'bsky-publish.json', workflowId: 'bsky-publish:recorded' }, // created, then updated
  { file: 'bsky-rsvp.json', workflowId: 'bsky-rsvp:recorded' }, // going, then interested
  { file: 'bsky-publish-series.json', workflowId: 'bsky-publish-series:recorded' }, // two rounds, waiting for the occurrence to end
  { file: 'claim-account.json', workflowId: 'claim-account:recorded' }, // completed: 20 events, 30 RSVPs (5 merged), 2 groups
  { file: 'bsky-ingest.json', workflowId: 'bsky-ingest:recorded' }, // created, same again (API), updated, deleted (child), waiting
  { file: 'bsky-sync.json', workflowId: 'bsky-sync:recorded' }, // completed: 60 records in, 40 published
  { file: 'reconcile.json', workflowId: 'reconcile:recorded' }, // completed: four kinds of divergence repaired
  { file: 'bsky-unpublish.json', workflowId: 'bsky-unpublish:recorded' }, // completed: an event and an RSVP record deleted, session revoked
  // Recorded after the short database steps became local activities (patch `local-db-steps`).
  { file: 'waitlist-local-steps.json', workflowId: 'waitlist:recorded-local' }, // two cancellations, each promoting the next person
  { file: 'delete-event-local-steps.json', workflowId: 'delete-event:recorded-local' }, // an attendee and a chat room (child)
  { file: 'chat-room-delete-local-steps.json', workflowId: 'chat-room-delete:recorded-local' },
  { file: 'bsky-ingest-local-steps.json', workflowId: 'bsky-ingest:recorded-local' }, // created, same again, updated (integration API)
  { file: 'bsky-ingest-lane.json', workflowId: 'bsky-ingest-lane:recorded' }, // a batch of firehose changes
  // Recorded after a room's notice, members and purge became one activity (patch `one-close-step`).
  { file: 'chat-room-delete-one-step.json', workflowId: 'chat-room-delete:recorded-one-step' }, // one member removed
  // Recorded after the tombstone began to stop the other workflows, and a few attendees to go with the row (patch `fewer-delete-steps`).
  { file: 'delete-event-fewer-steps.json', workflowId: 'delete-event:recorded-fewer-steps' }, // an attendee and a chat room (child)
  // Recorded after a lone event began to go in its tombstone's step (patch `lone-event-one-step`).
  { file: 'delete-event-lone-one-step.json', workflowId: 'delete-event:recorded-lone-one-step' }, // three attendees, nothing outside the database
  // Recorded after a record write's first try became local (patch `publish-first-try-local`).
  { file: 'bsky-publish-first-try-local.json', workflowId: 'bsky-publish:recorded-first-try-local' }, // created, then updated
  { file: 'bsky-rsvp-first-try-local.json', workflowId: 'bsky-rsvp:recorded-first-try-local' }, // going, then interested
  // Recorded after retention began to close rooms in the run itself (patch `retention-rooms-in-run`).
  { file: 'chat-retention-rooms-in-run.json', workflowId: 'chat-retention:recorded-rooms-in-run' }, // three rooms: one member, one purged by hand
  // One publisher per author (`bsky-publisher`), which replaced `bsky-publish:<slug>` for new events.
  { file: 'bsky-publisher.json', workflowId: 'bsky-publisher:recorded' }, // three events created at once, one renamed: four rounds, waiting
  // Recorded after a new deletion began to record one marker for all its versions (patch `delete-event-one-marker`).
  { file: 'delete-event-one-marker.json', workflowId: 'delete-event:recorded-one-marker' }, // three attendees, nothing outside the database
  { file: 'delete-event-one-marker-chat.json', workflowId: 'delete-event:recorded-one-marker-chat' }, // an attendee and a chat room (child)
  // Recorded after closeChatRoom began to mark the room's row itself (patch `room-marked-in-close`; stub activities).
  { file: 'chat-retention-marked-in-close.json', workflowId: 'chat-retention:recorded-marked-in-close' }, // three rooms
  { file: 'chat-room-delete-marked-in-close.json', workflowId: 'chat-room-delete:recorded-marked-in-close' },
  // Recorded after retention began to look for rooms in local steps, its last page a short one (patch `retention-pages-local`; stub activities).
  { file: 'chat-retention-pages-local.json', workflowId: 'chat-retention:recorded-pages-local' }, // three rooms
  // Recorded after retention began to close rooms in batches of 5, an activity each (patch `retention-room-batches`; stub activities).
  { file: 'chat-retention-room-batches.json', workflowId: 'chat-retention:recorded-room-batches' }, // seven rooms: two batches, one room refused
  // Recorded after retention began to shrink a page's last batches to single rooms (patch `retention-shrinking-batches`; stub activities).
  { file: 'chat-retention-shrinking-batches.json', workflowId: 'chat-retention:recorded-shrinking-batches' }, // 48 rooms: 5, 5, 4, …, 1; one room refused
  // Recorded after retention began to hand each page to one activity that closes 10 rooms at once (patch `retention-page-in-one-task`; stub activities).
  { file: 'chat-retention-page-in-one-task.json', workflowId: 'chat-retention:recorded-page-in-one-task' }, // 230 rooms: two pages; one room refused
  // A lone event deleted whose other operations could not be cancelled in that step (stub activities): cancelled in a step of their own.
  { file: 'delete-event-cancels-left.json', workflowId: 'delete-event:recorded-cancels-left' },
];

quietRuntime();

async function load(file: string) {
  return JSON.parse(await readFile(new URL(`./histories/${file}`, import.meta.url), 'utf8'));
}

describe('replay of recorded histories', () => {
  for (const { file, workflowId } of HISTORIES) {
    it(`${file} replays deterministically`, async () => {
      await expect(Worker.runReplayHistory({ workflowBundle: { codePath: workflowBundlePath() } }, await load(file), workflowId)).resolves.toBeUndefined();
    });
  }

  it('would catch a non-deterministic change (the check can fail)', async () => {
    const history = await load('waitlist.json');
    const scheduled = history.events.find((e: { activityTaskScheduledEventAttributes?: unknown }) => e.activityTaskScheduledEventAttributes);
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'somethingElse';
    await expect(Worker.runReplayHistory({ workflowBundle: { codePath: workflowBundlePath() } }, history, 'waitlist:tampered')).rejects.toThrow(/[Nn]ondeterminism|DeterminismViolation/);
  });
});

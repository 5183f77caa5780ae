import type { EventData } from '@anb/contracts';
import type { Logger } from '@anb/observability';
import { StoreSubscription, type EventStore, type RecordedEvent } from '@anb/platform';
import type { VideoFiles } from './storage';
import { originalKey, processedKey } from './videos/video';

/**
 * Removes a deleted video's files after the deletion is committed — asynchronously, so the DELETE
 * answers at once, and durably: it follows the catalog's own VideoDeleted events with a checkpoint,
 * so a crash or an S3 outage only delays the cleanup, never skips it.
 */
export function filesCleanup(options: { store: EventStore; databaseUrl: string; files: VideoFiles; logger: Logger }): StoreSubscription {
  return new StoreSubscription({
    store: options.store,
    databaseUrl: options.databaseUrl,
    name: 'files:cleanup',
    logger: options.logger,
    types: ['VideoDeleted'],
    async handle(events: readonly RecordedEvent[]) {
      let done = 0;
      try {
        for (const event of events) {
          const { videoId } = event.data as EventData<'VideoDeleted'>;
          await options.files.remove([originalKey(videoId), processedKey(videoId)]);
          options.logger.info({ videoId }, 'files of a deleted video removed');
          done++;
        }
        return { done };
      } catch (error) {
        return { done, error: error as Error };
      }
    },
  });
}

import type { EventEnvelope } from '@anb/contracts';
import type { EventStore, InboxHandlers, Knex } from '@anb/platform';
import { videoDecider } from './videos/decide';
import { videoStream } from './videos/video';

/**
 * What the catalog does when processing reports back, beyond updating its read model: a successful
 * rendition publishes the video (VideoPublished, recorded in the inbox transaction — so the
 * publication happens exactly once even when SNS delivers VideoProcessed twice).
 */
export function catalogHandlers(store: EventStore, now: () => Date = () => new Date()): InboxHandlers {
  return {
    async VideoProcessed(event: EventEnvelope<'VideoProcessed'>, trx: Knex.Transaction) {
      await store.handle(
        videoStream(event.data.videoId),
        videoDecider,
        { type: 'PublishVideo', data: { videoId: event.data.videoId, processedKey: event.data.processedKey }, metadata: { now: now() } },
        { trx, metadata: { correlationId: event.correlationid, causationId: event.id, actor: 'service:video-catalog' } },
      );
    },
  };
}

import { z } from 'zod';

/**
 * The domain events that cross service boundaries. These zod schemas are the only definition:
 * the TypeScript types, the JSON Schema in the OpenAPI/AsyncAPI documents and the consumers'
 * validation all derive from them. Field names are camelCase; times are ISO-8601 UTC.
 */
const isoTime = z.iso.datetime({ offset: false }).describe('ISO-8601 UTC timestamp');
const uuid = z.uuid();

export const UserRegistered = z
  .object({
    userId: uuid,
    firstName: z.string().min(1),
    lastName: z.string().min(1),
    city: z.string().min(1),
    country: z.string().min(1),
    registeredAt: isoTime,
  })
  .meta({ id: 'UserRegistered', description: 'A player signed up (no email, no password hash).' });

export const VideoUploaded = z
  .object({
    videoId: uuid,
    ownerId: uuid,
    title: z.string().min(1),
    originalKey: z.string().min(1),
    sizeBytes: z.number().int().nonnegative(),
    durationSeconds: z.number().nonnegative(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    uploadedAt: isoTime,
  })
  .meta({ id: 'VideoUploaded', description: 'An original video was stored and accepted for processing.' });

export const VideoProcessingStarted = z
  .object({ videoId: uuid, attempt: z.number().int().positive(), startedAt: isoTime })
  .meta({ id: 'VideoProcessingStarted', description: 'A worker claimed the video and started encoding it.' });

export const VideoProcessed = z
  .object({
    videoId: uuid,
    processedKey: z.string().min(1),
    durationSeconds: z.number().nonnegative(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    sizeBytes: z.number().int().nonnegative(),
    processingMs: z.number().int().nonnegative(),
    processedAt: isoTime,
  })
  .meta({ id: 'VideoProcessed', description: 'The processed rendition is stored and verified.' });

export const VideoProcessingFailed = z
  .object({
    videoId: uuid,
    reason: z.string().min(1),
    retryable: z.boolean(),
    attempt: z.number().int().positive(),
    failedAt: isoTime,
  })
  .meta({ id: 'VideoProcessingFailed', description: 'Processing gave up on the video; the reason is shown to the owner.' });

export const VideoPublished = z
  .object({ videoId: uuid, ownerId: uuid, title: z.string().min(1), processedKey: z.string().min(1), publishedAt: isoTime })
  .meta({ id: 'VideoPublished', description: 'The video is public and open for votes.' });

export const VideoDeleted = z
  .object({ videoId: uuid, ownerId: uuid, deletedAt: isoTime })
  .meta({ id: 'VideoDeleted', description: 'The owner deleted the video; its files are removed asynchronously.' });

export const VoteCast = z
  .object({ voteId: uuid, videoId: uuid, voterId: uuid, ownerId: uuid, castAt: isoTime })
  .meta({ id: 'VoteCast', description: 'A user voted for a published video (one vote per user per video).' });

/** type → schema of `data`. The key is the event `type` on the wire. */
export const eventDataSchemas = {
  UserRegistered,
  VideoUploaded,
  VideoProcessingStarted,
  VideoProcessed,
  VideoProcessingFailed,
  VideoPublished,
  VideoDeleted,
  VoteCast,
} as const;

export type EventType = keyof typeof eventDataSchemas;
export const eventTypes = Object.keys(eventDataSchemas) as EventType[];

export type EventData<T extends EventType> = z.infer<(typeof eventDataSchemas)[T]>;

/** A domain event as services handle it: a readonly object with a literal `type`. */
export type DomainEvent<T extends EventType = EventType> = {
  [K in T]: { readonly type: K; readonly data: Readonly<EventData<K>> };
}[T];

export function isEventType(type: string): type is EventType {
  return Object.prototype.hasOwnProperty.call(eventDataSchemas, type);
}

/** The subject (aggregate id) of each event type, as EVENTS.md specifies. */
export function subjectOf(event: DomainEvent): string {
  switch (event.type) {
    case 'UserRegistered':
      return event.data.userId;
    case 'VideoUploaded':
    case 'VideoProcessingStarted':
    case 'VideoProcessed':
    case 'VideoProcessingFailed':
    case 'VideoPublished':
    case 'VideoDeleted':
    case 'VoteCast':
      return event.data.videoId;
    default: {
      const never: never = event;
      throw new Error(`unknown event ${(never as { type: string }).type}`);
    }
  }
}

import type { EventData } from '@anb/contracts';
import { mergeRows, type LogEvent, type ProjectionDefinition } from '@anb/platform';
import { normalTime } from '../ranking/standing';
import { votingSchema } from '../schema';

/**
 * The public showcase: one row per video voting has heard of, with what VideoPublished said (owner,
 * title, processed key, publication time), a deletion mark, and the number of votes. A video is shown
 * — and open for votes — while it is published and not deleted.
 *
 * Like the ranking, every column is a function of the set of events, not their order: the latest
 * publication wins (a VideoPublished delivered twice, even with two event ids, is one entry), a
 * deletion is kept as a mark (so a late VideoPublished cannot bring a deleted video back), and votes
 * are a count added in batches by the VoteCast subscriber (a vote for a video voting never saw
 * published is kept on a placeholder row that shows nowhere).
 */
export interface PublicVideoRow {
  video_id: string;
  owner_id: string | null;
  title: string | null;
  processed_key: string | null;
  published_at: Date | string | null;
  publish_event_id: string | null;
  deleted_at: Date | string | null;
  votes: number;
}

const columns = {
  video_id: 'uuid',
  owner_id: 'uuid',
  title: 'text',
  processed_key: 'text',
  published_at: 'timestamptz',
  publish_event_id: 'uuid',
  deleted_at: 'timestamptz',
  votes: 'integer',
} as const;

interface Publication {
  ownerId: string;
  title: string;
  processedKey: string;
  publishedAt: string;
  eventId: string;
}

interface VideoChange {
  publication?: Publication;
  deletedAt?: string;
  votes: number;
}

function laterPublication(a: Publication | undefined, b: Publication | undefined): Publication | undefined {
  if (!a) return b;
  if (!b) return a;
  if (a.publishedAt !== b.publishedAt) return a.publishedAt > b.publishedAt ? a : b;
  return a.eventId >= b.eventId ? a : b;
}

const later = (a: string | undefined, b: string | undefined) => (a === undefined ? b : b === undefined ? a : a >= b ? a : b);

export function videoChangesOf(events: readonly LogEvent[]): Map<string, VideoChange> {
  const changes = new Map<string, VideoChange>();
  const video = (videoId: string) => {
    const key = videoId.toLowerCase();
    let change = changes.get(key);
    if (!change) changes.set(key, (change = { votes: 0 }));
    return change;
  };
  for (const event of events) {
    switch (event.type) {
      case 'VideoPublished': {
        const d = event.data as EventData<'VideoPublished'>;
        const change = video(d.videoId);
        change.publication = laterPublication(change.publication, {
          ownerId: d.ownerId.toLowerCase(),
          title: d.title,
          processedKey: d.processedKey,
          publishedAt: normalTime(d.publishedAt),
          eventId: event.eventId.toLowerCase(),
        });
        break;
      }
      case 'VideoDeleted': {
        const d = event.data as EventData<'VideoDeleted'>;
        const change = video(d.videoId);
        change.deletedAt = later(change.deletedAt, normalTime(d.deletedAt));
        break;
      }
      case 'VoteCast': {
        const d = event.data as EventData<'VoteCast'>;
        video(d.videoId).votes += 1;
        break;
      }
    }
  }
  return changes;
}

const timeOrUndefined = (value: Date | string | null) => (value === null ? undefined : normalTime(value));

export function mergeVideo(row: PublicVideoRow, change: VideoChange): PublicVideoRow {
  const stored: Publication | undefined =
    row.published_at !== null && row.owner_id !== null && row.title !== null && row.processed_key !== null && row.publish_event_id !== null
      ? { ownerId: row.owner_id, title: row.title, processedKey: row.processed_key, publishedAt: normalTime(row.published_at), eventId: row.publish_event_id }
      : undefined;
  const publication = laterPublication(stored, change.publication);
  return {
    video_id: row.video_id,
    owner_id: publication?.ownerId ?? null,
    title: publication?.title ?? null,
    processed_key: publication?.processedKey ?? null,
    published_at: publication?.publishedAt ?? null,
    publish_event_id: publication?.eventId ?? null,
    deleted_at: later(timeOrUndefined(row.deleted_at), change.deletedAt) ?? null,
    votes: (row.votes ?? 0) + change.votes,
  };
}

export const publicVideosProjection: ProjectionDefinition = {
  schema: votingSchema,
  name: 'public_videos',
  storeEvents: ['VoteCast'],
  storeFeed: 'subscriber',
  inboxEvents: ['VideoPublished', 'VideoDeleted'],
  key: ['video_id'],
  async createTable(knex, table) {
    await knex.raw(`
      create table ${table} (
        video_id         uuid primary key,
        owner_id         uuid,
        title            text,
        processed_key    text,
        published_at     timestamptz,
        publish_event_id uuid,
        deleted_at       timestamptz,
        votes            integer not null default 0
      )`);
    // newest first, only what is shown
    await knex.raw(`create index on ${table} (published_at desc, video_id desc) where published_at is not null and deleted_at is null`);
    await knex.raw(`create index on ${table} (owner_id)`);
  },
  async apply(trx, table, events) {
    const changes = videoChangesOf(events);
    await mergeRows<PublicVideoRow>(trx, table, {
      key: 'video_id',
      keyType: 'uuid',
      keys: [...changes.keys()],
      columns,
      merge: (row, videoId) => mergeVideo(row, changes.get(videoId)!),
    });
  },
};

import type { Knex, LogEvent, ProjectionDefinition } from '@anb/platform';

export const catalogSchema = 'catalog';

/** Status ranks: a projection update never moves a video backwards, whatever order events arrive in. */
export const statusRank = { uploaded: 0, processing: 1, failed: 2, processed: 3 } as const;
export type VideoStatus = keyof typeof statusRank;

export interface VideoRow {
  video_id: string;
  owner_id: string;
  title: string;
  status: VideoStatus;
  status_rank: number;
  original_key: string;
  processed_key: string | null;
  size_bytes: number;
  duration_seconds: number;
  width: number;
  height: number;
  uploaded_at: Date;
  processing_attempt: number | null;
  processed_at: Date | null;
  published_at: Date | null;
  failure_reason: string | null;
  votes: number;
}

/**
 * The player's library: one row per video that is not deleted, with its processing status, the
 * failure reason, and the vote count. Fed by the catalog's own events (inline, in the same transaction
 * as the upload or deletion, so a client reads its own writes) and by what processing and voting
 * report (through the inbox). Rebuildable with `npm run replay -- video-catalog videos`.
 */
export const videosProjection: ProjectionDefinition = {
  schema: catalogSchema,
  name: 'videos',
  storeEvents: ['VideoUploaded', 'VideoPublished', 'VideoDeleted'],
  inboxEvents: ['VideoProcessingStarted', 'VideoProcessed', 'VideoProcessingFailed', 'VoteCast'],
  key: ['video_id'],
  async createTable(knex, table) {
    const name = table.split('.')[1]!;
    await knex.raw(`
      create table ${table} (
        video_id           uuid primary key,
        owner_id           uuid not null,
        title              text not null,
        status             text not null,
        status_rank        smallint not null,
        original_key       text not null,
        processed_key      text,
        size_bytes         bigint not null,
        duration_seconds   double precision not null,
        width              integer not null,
        height             integer not null,
        uploaded_at        timestamptz not null,
        processing_attempt integer,
        processed_at       timestamptz,
        published_at       timestamptz,
        failure_reason     text,
        votes              integer not null default 0
      )`);
    await knex.raw(`create index ${name}_owner_uploaded on ${table} (owner_id, uploaded_at desc, video_id)`);
  },
  async apply(trx, table, events) {
    for (const event of events) await applyOne(trx, table, event);
  },
};

async function applyOne(trx: Knex.Transaction, table: string, event: LogEvent): Promise<void> {
  const d = event.data;
  switch (event.type) {
    case 'VideoUploaded':
      await trx(table)
        .insert({
          video_id: d.videoId,
          owner_id: d.ownerId,
          title: d.title,
          status: 'uploaded',
          status_rank: statusRank.uploaded,
          original_key: d.originalKey,
          size_bytes: d.sizeBytes,
          duration_seconds: d.durationSeconds,
          width: d.width,
          height: d.height,
          uploaded_at: d.uploadedAt,
        })
        .onConflict('video_id')
        .ignore();
      return;
    case 'VideoProcessingStarted':
      await advance(trx, table, d.videoId, 'processing', { processing_attempt: d.attempt });
      return;
    case 'VideoProcessingFailed':
      await advance(trx, table, d.videoId, 'failed', { failure_reason: d.reason, processing_attempt: d.attempt });
      return;
    case 'VideoProcessed':
      // the rendition's facts; the status changes with VideoPublished, recorded in the same transaction
      await trx(table).where({ video_id: d.videoId }).update({ processed_key: d.processedKey, processed_at: d.processedAt });
      return;
    case 'VideoPublished':
      await advance(trx, table, d.videoId, 'processed', {
        processed_key: d.processedKey,
        published_at: d.publishedAt,
        failure_reason: null,
        processed_at: trx.raw('coalesce(processed_at, ?)', [d.publishedAt]),
      });
      return;
    case 'VideoDeleted':
      await trx(table).where({ video_id: d.videoId }).delete();
      return;
    case 'VoteCast':
      await trx(table).where({ video_id: d.videoId }).increment('votes', 1);
      return;
  }
}

async function advance(trx: Knex.Transaction, table: string, videoId: string, status: VideoStatus, extra: Record<string, unknown>) {
  await trx(table)
    .where({ video_id: videoId })
    .andWhere('status_rank', '<=', statusRank[status])
    .update({ status, status_rank: statusRank[status], ...extra });
}

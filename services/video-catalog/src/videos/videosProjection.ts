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
    await applyBatch(trx, table, events);
  },
};

/** What a batch says about one video, folded in memory (statuses by rank, so order inside it does not matter). */
interface VideoFold {
  uploaded?: LogEvent['data'];
  deleted?: boolean;
  rank: number;
  attempt?: number;
  failureReason?: string;
  processedKey?: string;
  processedAt?: string;
  publishedAt?: string;
  votes: number;
}

function foldBatch(events: readonly LogEvent[]): Map<string, VideoFold> {
  const folds = new Map<string, VideoFold>();
  for (const event of events) {
    const d = event.data;
    const videoId = String(d.videoId).toLowerCase();
    let fold = folds.get(videoId);
    if (!fold) folds.set(videoId, (fold = { rank: -1, votes: 0 }));
    switch (event.type) {
      case 'VideoUploaded':
        fold.uploaded = d;
        break;
      case 'VideoDeleted':
        fold.deleted = true;
        break;
      case 'VideoProcessingStarted':
        fold.rank = Math.max(fold.rank, statusRank.processing);
        fold.attempt = Math.max(fold.attempt ?? 0, d.attempt);
        break;
      case 'VideoProcessingFailed':
        if (fold.rank <= statusRank.failed) {
          fold.rank = statusRank.failed;
          if (d.attempt >= (fold.attempt ?? 0)) fold.failureReason = d.reason;
        }
        fold.attempt = Math.max(fold.attempt ?? 0, d.attempt);
        break;
      case 'VideoProcessed':
        fold.processedKey = d.processedKey;
        fold.processedAt = d.processedAt;
        break;
      case 'VideoPublished':
        fold.rank = statusRank.processed;
        fold.processedKey = d.processedKey;
        fold.publishedAt = d.publishedAt;
        break;
      case 'VoteCast':
        fold.votes++;
        break;
    }
  }
  return folds;
}

const statusOfRank = Object.fromEntries(Object.entries(statusRank).map(([status, rank]) => [rank, status])) as Record<number, VideoStatus>;

/**
 * A batch in at most four statements, whatever its size — what makes a replay fast: insert the new
 * videos, delete the deleted ones, then read the rest (locked), merge in memory and write them back
 * with one UPDATE. Events about a video that is gone (deleted, or never uploaded) change nothing.
 */
async function applyBatch(trx: Knex.Transaction, table: string, events: readonly LogEvent[]): Promise<void> {
  const folds = foldBatch(events);
  const inserts = [...folds.entries()]
    .filter(([, f]) => f.uploaded && !f.deleted)
    .map(([videoId, f]) => {
      const d = f.uploaded!;
      return {
        video_id: videoId,
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
      };
    });
  if (inserts.length > 0) await trx(table).insert(inserts).onConflict('video_id').ignore();

  const deleted = [...folds.entries()].filter(([, f]) => f.deleted).map(([id]) => id);
  if (deleted.length > 0) await trx(table).whereIn('video_id', deleted).delete();

  const changed = [...folds.entries()].filter(([, f]) => !f.deleted && (f.rank >= 0 || f.votes > 0 || f.processedKey !== undefined));
  if (changed.length === 0) return;
  const current = (await trx(table)
    .whereIn('video_id', changed.map(([id]) => id))
    .orderBy('video_id')
    .forUpdate()
    .select('video_id', 'status_rank', 'processing_attempt', 'failure_reason', 'processed_key', 'processed_at', 'published_at', 'votes')) as Pick<
    VideoRow,
    'video_id' | 'status_rank' | 'processing_attempt' | 'failure_reason' | 'processed_key' | 'processed_at' | 'published_at' | 'votes'
  >[];
  const rows = current.map((row) => {
    const f = folds.get(row.video_id)!;
    const rank = f.rank > row.status_rank ? f.rank : row.status_rank;
    const moved = f.rank >= 0 && f.rank >= row.status_rank;
    // the rendition's own time when VideoProcessed was seen (in whatever order), else the publication's
    const processedAt = f.processedAt ?? row.processed_at ?? (rank === statusRank.processed ? f.publishedAt : undefined) ?? null;
    return {
      video_id: row.video_id,
      status: statusOfRank[rank]!,
      status_rank: rank,
      processing_attempt: Math.max(row.processing_attempt ?? 0, f.attempt ?? 0) || null,
      failure_reason: rank === statusRank.processed ? null : moved && f.failureReason !== undefined ? f.failureReason : row.failure_reason,
      processed_key: f.processedKey ?? row.processed_key,
      processed_at: processedAt instanceof Date ? processedAt.toISOString() : processedAt,
      published_at: f.publishedAt ?? (row.published_at instanceof Date ? row.published_at.toISOString() : row.published_at),
      votes: row.votes + f.votes,
    };
  });
  await trx.raw(
    `update ${table} as t set status = v.status, status_rank = v.status_rank, processing_attempt = v.processing_attempt,
            failure_reason = v.failure_reason, processed_key = v.processed_key, processed_at = v.processed_at,
            published_at = v.published_at, votes = v.votes
       from jsonb_to_recordset(?::jsonb) as v(video_id uuid, status text, status_rank smallint, processing_attempt integer,
            failure_reason text, processed_key text, processed_at timestamptz, published_at timestamptz, votes integer)
      where t.video_id = v.video_id`,
    [JSON.stringify(rows)],
  );
}

import type { DeleteVideoResponse, UploadResponse, VideoDetail, VideoListItem } from '@anb/contracts';
import { trace } from '@opentelemetry/api';
import { AppError, Router, isUuid, requestMetadata, requireUser, type Context, type EventStore, type Knex } from '@anb/platform';
import { claimIdempotencyKey, completeIdempotencyKey, releaseIdempotencyKey } from './upload/idempotency';
import { inspectStoredVideo } from './upload/inspect';
import { receiveUpload } from './upload/receive';
import type { VideoFiles } from './storage';
import { NotVideoOwner, VideoAlreadyPublished, VideoNotFound, videoDecider, type VideoCommand } from './videos/decide';
import { videoStream } from './videos/video';
import type { VideoRow } from './videos/videosProjection';

export interface CatalogApiDeps {
  db: Knex;
  store: EventStore;
  files: VideoFiles;
  now?: () => Date;
}

const videos = 'catalog.videos';

/** HTTP → commands and queries for the player's own videos. */
export function catalogRoutes(deps: CatalogApiDeps): Router {
  const router = new Router();
  const now = deps.now ?? (() => new Date());

  router.post('/api/videos/upload', async (ctx) => {
    const ownerId = requireUser(ctx);
    const claim = await claimIdempotencyKey(deps.db, ownerId, ctx.get('idempotency-key') || undefined);
    if (claim.kind === 'replay') {
      ctx.status = claim.status;
      ctx.set('idempotent-replayed', 'true');
      ctx.body = claim.body;
      return;
    }
    try {
      const upload = await receiveUpload(ctx, deps.files);
      trace.getActiveSpan()?.setAttributes({ 'anb.video_id': upload.videoId, 'anb.upload.bytes': upload.sizeBytes });
      let summary;
      try {
        summary = await inspectStoredVideo(deps.files, upload.key, upload.sizeBytes);
      } catch (error) {
        await deps.files.remove([upload.key]).catch(() => {});
        throw error;
      }
      const body = await deps.db.transaction(async (trx) => {
        const { recorded } = await deps.store.handle(
          videoStream(upload.videoId),
          videoDecider,
          {
            type: 'RegisterUpload',
            data: {
              videoId: upload.videoId,
              ownerId,
              title: upload.title,
              sizeBytes: upload.sizeBytes,
              durationSeconds: summary.durationSeconds ?? 0,
              width: summary.video!.width,
              height: summary.video!.height,
            },
            metadata: { now: now() },
          },
          { trx, metadata: requestMetadata(ctx) },
        );
        const response: UploadResponse = {
          message: 'Video subido correctamente. Procesamiento en curso.',
          task_id: recorded[0]!.eventId,
          video_id: upload.videoId,
        };
        if (claim.kind === 'claimed') await completeIdempotencyKey(trx, ownerId, claim.keyHash, 201, response);
        return response;
      });
      ctx.status = 201;
      ctx.body = body;
    } catch (error) {
      if (claim.kind === 'claimed') await releaseIdempotencyKey(deps.db, ownerId, claim.keyHash).catch(() => {});
      throw error;
    }
  });

  router.get('/api/videos', async (ctx) => {
    const ownerId = requireUser(ctx);
    const rows = (await deps.db(videos).where({ owner_id: ownerId }).orderBy([
      { column: 'uploaded_at', order: 'desc' },
      { column: 'video_id', order: 'desc' },
    ])) as VideoRow[];
    ctx.body = await Promise.all(rows.map((row) => listItem(row, deps.files)));
  });

  router.get('/api/videos/:video_id', async (ctx) => {
    const row = await ownVideo(ctx, deps.db);
    const detail: VideoDetail = {
      video_id: row.video_id,
      title: row.title,
      status: row.status,
      uploaded_at: row.uploaded_at.toISOString(),
      processed_at: row.status === 'processed' && row.processed_at ? row.processed_at.toISOString() : null,
      original_url: await deps.files.signedUrl(row.original_key),
      processed_url: row.status === 'processed' && row.processed_key ? await deps.files.signedUrl(row.processed_key) : null,
      votes: row.votes,
      ...(row.status === 'failed' && row.failure_reason ? { failure_reason: row.failure_reason } : {}),
    };
    ctx.body = detail;
  });

  router.delete('/api/videos/:video_id', async (ctx) => {
    const ownerId = requireUser(ctx);
    const videoId = videoIdParam(ctx);
    const command: VideoCommand = { type: 'DeleteVideo', data: { videoId, requestedBy: ownerId }, metadata: { now: now() } };
    try {
      await deps.store.handle(videoStream(videoId), videoDecider, command, { metadata: requestMetadata(ctx) });
    } catch (error) {
      throw toHttpError(error);
    }
    const body: DeleteVideoResponse = { message: 'El video ha sido eliminado exitosamente.', video_id: videoId };
    ctx.body = body;
  });

  return router;
}

function videoIdParam(ctx: Context): string {
  const id = String(ctx.params.video_id ?? '');
  if (!isUuid(id)) throw new AppError('VIDEO_NOT_FOUND');
  return id.toLowerCase();
}

async function ownVideo(ctx: Context, db: Knex): Promise<VideoRow> {
  const ownerId = requireUser(ctx);
  const row = (await db(videos).where({ video_id: videoIdParam(ctx) }).first()) as VideoRow | undefined;
  if (!row) throw new AppError('VIDEO_NOT_FOUND');
  if (row.owner_id !== ownerId) throw new AppError('FORBIDDEN', { message: 'Este video pertenece a otro jugador.' });
  return row;
}

async function listItem(row: VideoRow, files: VideoFiles): Promise<VideoListItem> {
  return {
    video_id: row.video_id,
    title: row.title,
    status: row.status,
    uploaded_at: row.uploaded_at.toISOString(),
    ...(row.status === 'processed' && row.processed_key
      ? { processed_at: (row.processed_at ?? row.published_at ?? row.uploaded_at).toISOString(), processed_url: await files.signedUrl(row.processed_key) }
      : {}),
    ...(row.status === 'failed' && row.failure_reason ? { failure_reason: row.failure_reason } : {}),
  };
}

/** The video rules' violations, mapped to the contract in one place. */
export function toHttpError(error: unknown): unknown {
  if (error instanceof VideoNotFound) return new AppError('VIDEO_NOT_FOUND');
  if (error instanceof NotVideoOwner) return new AppError('FORBIDDEN', { message: 'Este video pertenece a otro jugador.' });
  if (error instanceof VideoAlreadyPublished) return new AppError('VIDEO_PUBLISHED');
  return error;
}

import { randomUUID } from 'node:crypto';
import { PassThrough, Transform } from 'node:stream';
import busboy from 'busboy';
import { Upload } from '@aws-sdk/lib-storage';
import { UploadFields, videoRules } from '@anb/contracts';
import { AppError, fieldErrors, type Context } from '@anb/platform';
import { looksLikeMp4, notMp4Message } from '@anb/platform/media';
import type { VideoFiles } from '../storage';
import { originalKey } from '../videos/video';

export interface ReceivedUpload {
  readonly videoId: string;
  readonly key: string;
  readonly sizeBytes: number;
  readonly title: string;
  readonly description: string | undefined;
}

const fileFields = new Set(['video_file', 'file']);
/** S3 parts: 8 MiB each, two in flight — the most an upload holds in memory, whatever the file size */
const partSize = 8 * 1024 * 1024;

/**
 * Streams a multipart upload's file straight into S3 (`originals/<id>.mp4`, multipart) without holding
 * it in memory or on disk. Checked on the way: the first bytes must be an MP4 `ftyp` box (content, not
 * name), and the upload is cut off — 413, nothing kept — as soon as it crosses the size limit. Any
 * rejection removes what was stored.
 */
export async function receiveUpload(ctx: Context, files: VideoFiles, maxBytes = videoRules.maxBytes): Promise<ReceivedUpload> {
  if (!ctx.is('multipart/form-data')) {
    throw new AppError('VALIDATION_ERROR', {
      message: 'La subida debe ser multipart/form-data con los campos video_file y title.',
      errors: [{ field: 'video_file', message: 'El archivo de video es obligatorio.' }],
    });
  }
  const videoId = randomUUID();
  const key = originalKey(videoId);
  const fields: Record<string, string> = {};
  let stored: Promise<number> | undefined;
  let upload: Upload | undefined;

  const parsed = new Promise<void>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: ctx.req.headers,
        limits: { files: 1, fileSize: maxBytes, fields: 10, fieldSize: 8 * 1024, parts: 16 },
      });
    } catch {
      reject(new AppError('VALIDATION_ERROR', { message: 'Cuerpo multipart mal formado.' }));
      return;
    }
    const stop = (error: AppError) => {
      // the answer goes out now; the rest of the body is read and discarded so the client, still
      // sending, receives it cleanly (closing the connection under it would turn the answer into a reset)
      ctx.req.unpipe(parser);
      ctx.req.resume();
      reject(error);
    };

    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) stop(new AppError('VALIDATION_ERROR', { errors: [{ field: name, message: 'Valor demasiado largo.' }] }));
      else fields[name] = value;
    });

    parser.on('file', (name, stream) => {
      if (!fileFields.has(name)) {
        stream.resume();
        stop(new AppError('VALIDATION_ERROR', { errors: [{ field: name, message: 'Campo de archivo no reconocido: usa video_file.' }] }));
        return;
      }
      let size = 0;
      let head = Buffer.alloc(0);
      let checked = false;
      const body = new PassThrough({ highWaterMark: 1024 * 1024 });
      const meter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          size += chunk.length;
          if (!checked) {
            head = Buffer.concat([head, chunk]);
            if (head.length < 12) return callback();
            checked = true;
            if (!looksLikeMp4(head)) return callback(new AppError('INVALID_VIDEO', { message: notMp4Message }));
            chunk = head;
          }
          callback(null, chunk);
        },
        flush(callback) {
          if (!checked && !looksLikeMp4(head)) return callback(new AppError('INVALID_VIDEO', { message: notMp4Message }));
          if (!checked && head.length > 0) this.push(head);
          callback();
        },
      });
      meter.on('error', (error) => {
        stream.resume();
        void upload?.abort();
        stop(error instanceof AppError ? error : new AppError('INVALID_VIDEO', { message: notMp4Message }));
      });
      stream.on('limit', () => {
        // crossed the limit: stop here, abort the multipart upload, keep nothing
        stream.unpipe(meter);
        stream.resume();
        void upload?.abort();
        stop(new AppError('FILE_TOO_LARGE'));
      });
      upload = new Upload({
        client: files.s3,
        params: { Bucket: files.bucket, Key: key, Body: body, ContentType: 'video/mp4' },
        partSize,
        queueSize: 2,
        leavePartsOnError: false,
      });
      stored = upload.done().then(() => size);
      stored.catch(() => {}); // awaited below; a rejection after a stop() must not go unhandled
      stream.pipe(meter).pipe(body);
    });

    parser.on('error', () => stop(new AppError('VALIDATION_ERROR', { message: 'Cuerpo multipart mal formado.' })));
    parser.on('partsLimit', () => stop(new AppError('VALIDATION_ERROR', { message: 'Demasiadas partes en el formulario.' })));
    parser.on('filesLimit', () => stop(new AppError('VALIDATION_ERROR', { message: 'Envía un solo archivo de video.' })));
    parser.on('close', () => resolve());
    ctx.req.pipe(parser);
  });

  try {
    await parsed;
    if (!stored) {
      throw new AppError('VALIDATION_ERROR', {
        message: 'El archivo de video es obligatorio (campo video_file).',
        errors: [{ field: 'video_file', message: 'El archivo de video es obligatorio.' }],
      });
    }
    const meta = UploadFields.safeParse({ title: fields.title, description: fields.description });
    const sizeBytes = await stored;
    if (!meta.success) throw new AppError('VALIDATION_ERROR', { errors: fieldErrors(meta.error.issues) });
    return { videoId, key, sizeBytes, title: meta.data.title, description: meta.data.description };
  } catch (error) {
    // whatever reached S3 goes away with the rejection
    await upload?.abort().catch(() => {});
    await files.remove([key]).catch(() => {});
    if (error instanceof AppError) throw error;
    throw new AppError('SERVICE_UNAVAILABLE', { message: 'No se pudo guardar el video. Intenta de nuevo.', cause: error });
  }
}

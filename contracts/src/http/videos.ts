import { z } from 'zod';
import { IsoTime, Uuid } from './common';

export const videoRules = {
  maxBytes: 100 * 1024 * 1024,
  minSeconds: 20,
  maxSeconds: 60,
  /** the short side must be at least this (1080p in either orientation) */
  minShortSide: 1080,
  titleMax: 120,
  descriptionMax: 1000,
} as const;

export const VideoStatus = z.enum(['uploaded', 'processing', 'processed', 'failed']).meta({ id: 'VideoStatus' });
export type VideoStatus = z.infer<typeof VideoStatus>;

export const UploadForm = z
  .object({
    video_file: z.string().meta({ format: 'binary', description: 'The MP4 file (alias: `file`).' }),
    title: z.string().min(1).max(videoRules.titleMax),
    description: z.string().max(videoRules.descriptionMax).optional(),
  })
  .meta({ id: 'UploadForm' });

/** The text fields of an upload, validated once the multipart stream has been read. */
export const UploadFields = z.object({
  title: z
    .string({ error: 'El título es obligatorio.' })
    .trim()
    .min(1, 'El título es obligatorio.')
    .max(videoRules.titleMax, `El título admite como máximo ${videoRules.titleMax} caracteres.`),
  description: z
    .string()
    .trim()
    .max(videoRules.descriptionMax, `La descripción admite como máximo ${videoRules.descriptionMax} caracteres.`)
    .optional(),
});

export const UploadResponse = z
  .object({
    message: z.literal('Video subido correctamente. Procesamiento en curso.'),
    task_id: z.string(),
    video_id: Uuid,
  })
  .meta({ id: 'UploadResponse' });
export type UploadResponse = z.infer<typeof UploadResponse>;

export const VideoListItem = z
  .object({
    video_id: Uuid,
    title: z.string(),
    status: VideoStatus,
    uploaded_at: IsoTime,
    processed_at: IsoTime.optional(),
    processed_url: z.url().optional(),
    failure_reason: z.string().optional(),
  })
  .meta({ id: 'VideoListItem' });
export const VideoList = z.array(VideoListItem).meta({ id: 'VideoList' });
export type VideoListItem = z.infer<typeof VideoListItem>;

export const VideoDetail = z
  .object({
    video_id: Uuid,
    title: z.string(),
    status: VideoStatus,
    uploaded_at: IsoTime,
    processed_at: IsoTime.nullable(),
    original_url: z.url().nullable(),
    processed_url: z.url().nullable(),
    votes: z.number().int().nonnegative(),
    failure_reason: z.string().optional(),
  })
  .meta({ id: 'VideoDetail' });
export type VideoDetail = z.infer<typeof VideoDetail>;

export const VideoIdParams = z.object({ video_id: z.string().meta({ description: 'The video UUID', format: 'uuid' }) });

export const DeleteVideoResponse = z
  .object({ message: z.literal('El video ha sido eliminado exitosamente.'), video_id: Uuid })
  .meta({ id: 'DeleteVideoResponse' });
export type DeleteVideoResponse = z.infer<typeof DeleteVideoResponse>;

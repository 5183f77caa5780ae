import { z } from 'zod';
import { IsoTime, Uuid, positiveIntParam, textFilterParam } from './common';

export const PublicVideosQuery = z
  .object({
    city: textFilterParam('Filter by city (case- and accent-insensitive: `bogota` finds `Bogotá`).').optional(),
    page: positiveIntParam('Page number, from 1.').optional(),
    page_size: positiveIntParam('Items per page, 1–100 (default 20).', 100).optional(),
  })
  .meta({ id: 'PublicVideosQuery' });
export type PublicVideosQuery = z.infer<typeof PublicVideosQuery>;

export const PublicVideo = z
  .object({
    video_id: Uuid,
    title: z.string(),
    username: z.string().meta({ example: 'Ana Pérez' }),
    city: z.string(),
    country: z.string(),
    processed_url: z.url(),
    votes: z.number().int().nonnegative(),
    published_at: IsoTime,
    voted_by_me: z.boolean().optional().meta({ description: 'Present only when a valid token is sent.' }),
  })
  .meta({ id: 'PublicVideo' });
export const PublicVideoList = z.array(PublicVideo).meta({ id: 'PublicVideoList' });
export type PublicVideo = z.infer<typeof PublicVideo>;

export const VoteResponse = z
  .object({ message: z.literal('Voto registrado exitosamente.'), video_id: Uuid })
  .meta({ id: 'VoteResponse' });

export const RankingsQuery = z
  .object({
    city: textFilterParam('Filter by city (case- and accent-insensitive).').optional(),
    country: textFilterParam('Filter by country (case- and accent-insensitive).').optional(),
    page: positiveIntParam('Page number, from 1.').optional(),
    page_size: positiveIntParam('Rows per page, 1–100 (default 20).', 100).optional(),
  })
  .meta({ id: 'RankingsQuery' });
export type RankingsQuery = z.infer<typeof RankingsQuery>;

export const RankingRow = z
  .object({
    position: z.number().int().positive(),
    username: z.string(),
    city: z.string(),
    votes: z.number().int().nonnegative(),
    user_id: Uuid,
    country: z.string(),
  })
  .meta({ id: 'RankingRow' });
export const Rankings = z.array(RankingRow).meta({ id: 'Rankings' });
export type RankingRow = z.infer<typeof RankingRow>;

export const pagination = { defaultPage: 1, defaultPageSize: 20, maxPageSize: 100 } as const;

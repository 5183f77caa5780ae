import { viewName, type Knex } from '@anb/platform';
import { playersProjection } from '../players/playersProjection';
import type { VotableVideo } from '../votes/decide';
import { publicVideosProjection } from './publicVideosProjection';

const videos = viewName(publicVideosProjection);
const players = viewName(playersProjection);

export interface ShowcaseItem {
  video_id: string;
  title: string;
  username: string;
  city: string;
  country: string;
  processed_key: string;
  votes: number;
  published_at: Date;
}

/**
 * A page of the showcase, newest first (ties: video id), with the owner's public profile joined in
 * when reading — a video whose owner voting has not heard of yet waits until UserRegistered arrives.
 * The total comes with the rows (a window count); only a page past the end needs a second query.
 */
export async function showcasePage(
  db: Knex,
  query: { cityFolded?: string | undefined; page: number; pageSize: number },
): Promise<{ items: ShowcaseItem[]; total: number }> {
  const filter = (q: Knex.QueryBuilder) => {
    q.from(`${videos} as v`)
      .join(`${players} as p`, 'p.user_id', 'v.owner_id')
      .whereNotNull('v.published_at')
      .whereNull('v.deleted_at');
    if (query.cityFolded !== undefined) q.where('p.city_folded', query.cityFolded);
    return q;
  };
  const rows = (await filter(db.queryBuilder())
    .select('v.video_id', 'v.title', 'p.username', 'p.city', 'p.country', 'v.processed_key', 'v.votes', 'v.published_at', db.raw('count(*) over () as total'))
    .orderBy([
      { column: 'v.published_at', order: 'desc' },
      { column: 'v.video_id', order: 'desc' },
    ])
    .limit(query.pageSize)
    .offset((query.page - 1) * query.pageSize)) as (ShowcaseItem & { total: number })[];
  if (rows.length > 0) return { items: rows.map(({ total: _total, ...item }) => item), total: Number(rows[0]!.total) };
  if (query.page === 1) return { items: [], total: 0 };
  const count = (await filter(db.queryBuilder()).count('* as n').first()) as { n: number | string } | undefined;
  return { items: [], total: Number(count?.n ?? 0) };
}

/** The video when it is open for votes (published, not deleted); undefined otherwise. */
export async function findVotableVideo(db: Knex, videoId: string): Promise<VotableVideo | undefined> {
  const row = (await db(videos).where({ video_id: videoId }).whereNotNull('published_at').whereNull('deleted_at').first('owner_id')) as
    | { owner_id: string }
    | undefined;
  return row ? { ownerId: row.owner_id } : undefined;
}

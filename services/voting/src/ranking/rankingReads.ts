import type { RankingRow } from '@anb/contracts';
import { viewName, type Knex } from '@anb/platform';
import { rankingProjection } from './rankingProjection';

const ranking = viewName(rankingProjection);

/**
 * A page of the ranking: listed players (registered, with at least one published video), votes desc,
 * earliest to reach the count first, then user id. `position` counts from 1 across pages within the
 * list asked for: with a city or country filter, within that filtered list.
 */
export async function rankingPage(
  db: Knex,
  query: { cityFolded?: string | undefined; countryFolded?: string | undefined; page: number; pageSize: number },
): Promise<{ rows: RankingRow[]; total: number }> {
  const filter = (q: Knex.QueryBuilder) => {
    q.from(ranking).where('listed', true);
    if (query.cityFolded !== undefined) q.where('city_folded', query.cityFolded);
    if (query.countryFolded !== undefined) q.where('country_folded', query.countryFolded);
    return q;
  };
  const offset = (query.page - 1) * query.pageSize;
  const rows = (await filter(db.queryBuilder())
    .select('user_id', 'username', 'city', 'country', 'votes', db.raw('count(*) over () as total'))
    .orderByRaw('votes desc, reached_at asc nulls first, user_id asc')
    .limit(query.pageSize)
    .offset(offset)) as { user_id: string; username: string; city: string; country: string; votes: number; total: number | string }[];
  const page = rows.map((r, i) => ({ position: offset + i + 1, username: r.username, city: r.city, votes: r.votes, user_id: r.user_id, country: r.country }));
  if (rows.length > 0) return { rows: page, total: Number(rows[0]!.total) };
  if (query.page === 1) return { rows: [], total: 0 };
  const count = (await filter(db.queryBuilder()).count('* as n').first()) as { n: number | string } | undefined;
  return { rows: [], total: Number(count?.n ?? 0) };
}

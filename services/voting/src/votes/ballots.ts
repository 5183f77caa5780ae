import { namedStatement, type Knex } from '@anb/platform';
import { votingSchema } from '../schema';
import { voteStream } from './vote';

/**
 * Which of these videos a voter has voted for — read from the vote streams themselves (the unique
 * (stream_id, stream_version) index), so a voter sees their own vote at once, before the read models.
 * Asked on every signed-in showcase page: the stream ids travel as one array, and the statement is
 * named, so PostgreSQL plans it once per connection (planning 20 inline ids cost twice the lookup).
 */
export async function videosVotedBy(db: Knex, voterId: string, videoIds: readonly string[]): Promise<Set<string>> {
  if (videoIds.length === 0) return new Set();
  const streams = new Map(videoIds.map((id) => [voteStream(id, voterId), id]));
  const { rows } = (await db
    .raw(`select distinct stream_id from ${votingSchema}.events where stream_id = any(?::text[])`, [[...streams.keys()]])
    .options(namedStatement(db, `anb_videos_voted_by_${votingSchema}`))) as { rows: { stream_id: string }[] };
  return new Set(rows.map((r) => streams.get(r.stream_id)!));
}

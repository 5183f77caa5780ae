import type { Knex } from '@anb/platform';
import { votingSchema } from '../schema';
import { voteStream } from './vote';

/**
 * Which of these videos a voter has voted for — read from the vote streams themselves (the unique
 * (stream_id, stream_version) index), so a voter sees their own vote at once, before the read models.
 */
export async function videosVotedBy(db: Knex, voterId: string, videoIds: readonly string[]): Promise<Set<string>> {
  if (videoIds.length === 0) return new Set();
  const streams = new Map(videoIds.map((id) => [voteStream(id, voterId), id]));
  const rows = (await db(`${votingSchema}.events`).distinct('stream_id').whereIn('stream_id', [...streams.keys()])) as { stream_id: string }[];
  return new Set(rows.map((r) => streams.get(r.stream_id)!));
}

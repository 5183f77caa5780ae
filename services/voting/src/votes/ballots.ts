import { NaturalBatches, namedStatement, type Knex } from '@anb/platform';
import { votingSchema } from '../schema';
import { voteStream } from './vote';

/**
 * Which of these videos a voter has voted for — read from the vote streams themselves (the unique
 * (stream_id, stream_version) index), so a voter sees their own vote at once, before the read models.
 *
 * Asked on every signed-in showcase page, so the asks are batched the way the store batches votes
 * (`NaturalBatches`): the first goes at once; asks that arrive while a read is in flight go together in
 * the next one, one statement for all their stream ids. Fifty readers at once cost PostgreSQL a few
 * round trips instead of fifty (each round trip costs both processes a wake-up — most of a signed-in
 * page's CPU), and a lone reader waits for nothing. The ids travel as one array and the statement is
 * named, so PostgreSQL plans it once per connection. A failed read fails the asks it carried, and the
 * next ones try again.
 */
export class Ballots {
  /** an ask: the voter's vote streams for the videos asked about, each with its video id */
  private readonly asks: NaturalBatches<Map<string, string>, Set<string>>;

  constructor(
    private readonly db: Knex,
    /** asks per statement at most (20 videos each: 2,000 ids) */
    maxAsks = 100,
  ) {
    this.asks = new NaturalBatches(async (batch) => {
      const found = await this.existingStreams(batch.flatMap(({ item: streams }) => [...streams.keys()]));
      for (const { item: streams, resolve } of batch) {
        const voted = new Set<string>();
        for (const [stream, videoId] of streams) if (found.has(stream)) voted.add(videoId);
        resolve(voted);
      }
    }, { maxBatch: maxAsks });
  }

  votedBy(voterId: string, videoIds: readonly string[]): Promise<Set<string>> {
    if (videoIds.length === 0) return Promise.resolve(new Set());
    return this.asks.add(new Map(videoIds.map((id) => [voteStream(id, voterId), id])));
  }

  private async existingStreams(streamIds: string[]): Promise<Set<string>> {
    const { rows } = (await this.db
      .raw(`select distinct stream_id from ${votingSchema}.events where stream_id = any(?::text[])`, [streamIds])
      .options(namedStatement(this.db, `anb_videos_voted_by_${votingSchema}`))) as { rows: { stream_id: string }[] };
    return new Set(rows.map((r) => r.stream_id));
  }
}

import { namedStatement, type Knex } from '@anb/platform';
import { votingSchema } from '../schema';
import { voteStream } from './vote';

type Waiting = { streams: Map<string, string>; resolve: (voted: Set<string>) => void; reject: (error: unknown) => void };

/**
 * Which of these videos a voter has voted for — read from the vote streams themselves (the unique
 * (stream_id, stream_version) index), so a voter sees their own vote at once, before the read models.
 *
 * Asked on every signed-in showcase page, so the asks are batched the way the store batches votes: the
 * first goes at once; asks that arrive while a read is in flight go together in the next one, one
 * statement for all their stream ids. Fifty readers at once cost PostgreSQL a few round trips instead
 * of fifty (each round trip costs both processes a wake-up — most of a signed-in page's CPU), and a
 * lone reader waits for nothing. The ids travel as one array and the statement is named, so PostgreSQL
 * plans it once per connection. A failed read fails the asks it carried, and the next ones try again.
 */
export class Ballots {
  private waiting: Waiting[] = [];
  private reading = false;

  constructor(
    private readonly db: Knex,
    /** asks per statement at most (20 videos each: 2,000 ids) */
    private readonly maxAsks = 100,
  ) {}

  votedBy(voterId: string, videoIds: readonly string[]): Promise<Set<string>> {
    if (videoIds.length === 0) return Promise.resolve(new Set());
    const streams = new Map(videoIds.map((id) => [voteStream(id, voterId), id]));
    return new Promise((resolve, reject) => {
      this.waiting.push({ streams, resolve, reject });
      if (!this.reading) void this.readWhileWaiting();
    });
  }

  private async readWhileWaiting(): Promise<void> {
    this.reading = true;
    try {
      while (this.waiting.length > 0) {
        const asks = this.waiting.splice(0, this.maxAsks);
        try {
          const found = await this.existingStreams(asks.flatMap((ask) => [...ask.streams.keys()]));
          for (const ask of asks) {
            const voted = new Set<string>();
            for (const [stream, videoId] of ask.streams) if (found.has(stream)) voted.add(videoId);
            ask.resolve(voted);
          }
        } catch (error) {
          for (const ask of asks) ask.reject(error);
        }
      }
    } finally {
      this.reading = false;
    }
  }

  private async existingStreams(streamIds: string[]): Promise<Set<string>> {
    const { rows } = (await this.db
      .raw(`select distinct stream_id from ${votingSchema}.events where stream_id = any(?::text[])`, [streamIds])
      .options(namedStatement(this.db, `anb_videos_voted_by_${votingSchema}`))) as { rows: { stream_id: string }[] };
    return new Set(rows.map((r) => r.stream_id));
  }
}

import type { Decider } from '@anb/platform';
import { evolve, initialState, type Ballot, type VoteEvent } from './vote';

/** What the showcase knows about a video at the moment of the vote; undefined: not open for votes. */
export interface VotableVideo {
  readonly ownerId: string;
}

export type CastVote = {
  readonly type: 'CastVote';
  readonly data: {
    readonly videoId: string;
    readonly voterId: string;
    /** the video, when it is published and not deleted */
    readonly video: VotableVideo | undefined;
  };
  readonly metadata: { readonly now: Date; readonly voteId: string };
};
export type VoteCommand = CastVote;

/** Unknown, not yet published or deleted: answered as 404 VIDEO_NOT_FOUND. */
export class VideoNotOpenForVotes extends Error {
  constructor(readonly videoId: string) {
    super(`video ${videoId} is not published for voting`);
    this.name = 'VideoNotOpenForVotes';
  }
}

/** Answered as 400 ALREADY_VOTED. */
export class AlreadyVoted extends Error {
  constructor(
    readonly videoId: string,
    readonly voterId: string,
  ) {
    super(`${voterId} already voted for ${videoId}`);
    this.name = 'AlreadyVoted';
  }
}

/**
 * A player may vote for their own video: the contract does not forbid it and has no error for it, and
 * since every player has the same single vote per video it gives nobody an edge (see README).
 */
export function decide(command: VoteCommand, state: Ballot): VoteEvent[] {
  switch (command.type) {
    case 'CastVote': {
      const { videoId, voterId, video } = command.data;
      if (!video) throw new VideoNotOpenForVotes(videoId);
      if (state.status === 'cast') throw new AlreadyVoted(videoId, voterId);
      return [
        {
          type: 'VoteCast',
          data: { voteId: command.metadata.voteId, videoId, voterId, ownerId: video.ownerId, castAt: command.metadata.now.toISOString() },
        },
      ];
    }
    default: {
      const never: never = command.type;
      throw new Error(`unknown command ${String(never)}`);
    }
  }
}

export const voteDecider: Decider<Ballot, VoteCommand, VoteEvent> = { decide, evolve, initialState };

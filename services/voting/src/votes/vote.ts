import type { EventData } from '@anb/contracts';

/**
 * The vote slice: one stream per voter and video, `vote:<videoId>:<voterId>`, holding at most one
 * `VoteCast`. One vote per user per video is the event store's guarantee: the stream is appended with
 * the expectation that it does not exist yet, and of racing appends exactly one commits.
 */
export type VoteCast = { readonly type: 'VoteCast'; readonly data: EventData<'VoteCast'> };
export type VoteEvent = VoteCast;

export type Ballot = { readonly status: 'open' } | { readonly status: 'cast'; readonly voteId: string; readonly castAt: string };

export const initialState = (): Ballot => ({ status: 'open' });

export function evolve(state: Ballot, event: VoteEvent): Ballot {
  switch (event.type) {
    case 'VoteCast':
      return { status: 'cast', voteId: event.data.voteId, castAt: event.data.castAt };
    default: {
      const never: never = event.type;
      return never;
    }
  }
}

export const voteStream = (videoId: string, voterId: string) => `vote:${videoId}:${voterId}`;

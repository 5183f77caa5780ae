import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlreadyVoted, VideoNotOpenForVotes, decide, type CastVote } from './decide';
import { evolve, initialState, voteStream, type VoteEvent } from './vote';

const videoId = '5f0c6a36-1d7e-4d7b-9a3b-0c1d2e3f4a5b';
const voterId = '0b8f1c0e-7a2d-4f7e-9a51-2f3c4d5e6f70';
const ownerId = '9d1e2f3a-4b5c-4d6e-8f70-1a2b3c4d5e6f';
const now = new Date('2026-01-01T10:00:00Z');
const cast = (video: CastVote['data']['video']): CastVote => ({
  type: 'CastVote',
  data: { videoId, voterId, video },
  metadata: { now, voteId: '11111111-2222-4333-8444-555555555555' },
});
const given = (events: VoteEvent[]) => events.reduce(evolve, initialState());

test('a first vote for a published video records VoteCast with the owner and the time', () => {
  assert.deepEqual(decide(cast({ ownerId }), given([])), [
    {
      type: 'VoteCast',
      data: { voteId: '11111111-2222-4333-8444-555555555555', videoId, voterId, ownerId, castAt: '2026-01-01T10:00:00.000Z' },
    },
  ]);
});

test('a second vote by the same voter for the same video is refused', () => {
  const history = decide(cast({ ownerId }), given([]));
  assert.throws(() => decide(cast({ ownerId }), given(history)), AlreadyVoted);
});

test('a video that is unknown, unpublished or deleted is not open for votes', () => {
  assert.throws(() => decide(cast(undefined), given([])), VideoNotOpenForVotes);
});

test('voting for one’s own video is allowed (one vote, like anyone else)', () => {
  const events = decide({ ...cast({ ownerId: voterId }) }, given([]));
  assert.equal(events.length, 1);
  assert.equal(events[0]!.data.ownerId, voterId);
});

test('the stream id is readable and per voter and video', () => {
  assert.equal(voteStream(videoId, voterId), `vote:${videoId}:${voterId}`);
});

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { LogEvent } from '@anb/platform';
import { mergeVideo, videoChangesOf, type PublicVideoRow } from '../showcase/publicVideosProjection';
import { changesOf, mergePlayer, type RankingRow } from './rankingProjection';
import { compareRanked, emptyTally, standingOf, type RankedPlayer } from './standing';

const t = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute)).toISOString();

test('order: votes desc, then earliest to reach the count, then user id', () => {
  const players: RankedPlayer[] = [
    { userId: 'c', votes: 2, reachedAt: t(5) },
    { userId: 'a', votes: 3, reachedAt: t(9) },
    { userId: 'd', votes: 2, reachedAt: t(5) },
    { userId: 'b', votes: 2, reachedAt: t(3) },
    { userId: 'f', votes: 0, reachedAt: null },
    { userId: 'e', votes: 0, reachedAt: null },
  ];
  assert.deepEqual(
    [...players].sort(compareRanked).map((p) => p.userId),
    ['a', 'b', 'c', 'd', 'e', 'f'],
  );
});

test('a standing counts published, undeleted videos; reachedAt is the latest counted vote', () => {
  const standing = standingOf({
    v1: { votes: 2, lastVoteAt: t(4), publishedAt: t(0), deletedAt: null },
    v2: { votes: 1, lastVoteAt: t(7), publishedAt: t(0), deletedAt: null },
    deleted: { votes: 5, lastVoteAt: t(9), publishedAt: t(0), deletedAt: t(8) },
    unknown: { votes: 4, lastVoteAt: t(9), publishedAt: null, deletedAt: null },
    quiet: { ...emptyTally, publishedAt: t(1) },
  });
  assert.deepEqual(standing, { votes: 3, reachedAt: t(7), videos: 3 });
  assert.deepEqual(standingOf({}), { votes: 0, reachedAt: null, videos: 0 });
});

/** A small world of events: players, videos (one deleted, one never published), votes. */
function world(): LogEvent[] {
  const players = [randomUUID(), randomUUID(), randomUUID()];
  const videos = players.flatMap((owner) => [randomUUID(), randomUUID()].map((videoId) => ({ videoId, owner })));
  const event = (type: string, data: object, minute: number): LogEvent => ({
    origin: type === 'VoteCast' ? 'store' : 'inbox',
    eventId: randomUUID(),
    type,
    data,
    streamId: 'x',
    streamVersion: 1,
    time: new Date(t(minute)),
  });
  const events: LogEvent[] = [];
  players.forEach((userId, i) =>
    events.push(event('UserRegistered', { userId, firstName: `P${i}`, lastName: 'X', city: ['Bogotá', 'Cali'][i % 2], country: 'Colombia', registeredAt: t(0) }, 0)),
  );
  // the last video of the last player is never published; the first video of the first is deleted
  videos.slice(0, -1).forEach((v, i) => events.push(event('VideoPublished', { videoId: v.videoId, ownerId: v.owner, title: 'T', processedKey: 'k', publishedAt: t(1 + i) }, 1)));
  events.push(event('VideoPublished', { videoId: videos[2]!.videoId, ownerId: videos[2]!.owner, title: 'T2', processedKey: 'k2', publishedAt: t(30) }, 30));
  events.push(event('VideoDeleted', { videoId: videos[0]!.videoId, ownerId: videos[0]!.owner, deletedAt: t(40) }, 40));
  for (let i = 0; i < 40; i++) {
    const v = videos[(i * 7) % videos.length]!;
    events.push(event('VoteCast', { voteId: randomUUID(), videoId: v.videoId, voterId: randomUUID(), ownerId: v.owner, castAt: t(10 + (i % 17)) }, 10));
  }
  return events;
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Applies events in random batches the way the projections do: fold a batch, merge it into stored rows. */
function applyInBatches<Row, Change>(
  events: readonly LogEvent[],
  fold: (batch: LogEvent[]) => Map<string, Change>,
  merge: (row: Row, change: Change) => Row,
  blank: (key: string) => Row,
): Map<string, Row> {
  const rows = new Map<string, Row>();
  const order = shuffled(events);
  while (order.length > 0) {
    const batch = order.splice(0, 1 + Math.floor(Math.random() * 9));
    for (const [key, change] of fold(batch)) rows.set(key, merge(rows.get(key) ?? blank(key), change));
  }
  return new Map([...rows.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
}

const blankPlayer = (userId: string): RankingRow => ({
  user_id: userId,
  username: null,
  city: null,
  country: null,
  city_folded: null,
  country_folded: null,
  registered_at: null,
  profile_event_id: null,
  videos: {},
  votes: 0,
  reached_at: null,
  listed: false,
});
const blankVideo = (videoId: string): PublicVideoRow => ({
  video_id: videoId,
  owner_id: null,
  title: null,
  processed_key: null,
  published_at: null,
  publish_event_id: null,
  deleted_at: null,
  votes: 0,
});

test('the ranking rows are the same whatever the order and batching of the events (what makes replay exact)', () => {
  const events = world();
  const reference = applyInBatches(events, changesOf, mergePlayer, blankPlayer);
  for (let run = 0; run < 25; run++) assert.deepEqual(applyInBatches(events, changesOf, mergePlayer, blankPlayer), reference);
  const rows = [...reference.values()];
  assert.equal(rows.length, 3);
  assert.ok(rows.every((r) => r.listed));
  // 40 votes; those for the deleted and the unpublished video do not count
  const total = rows.reduce((n, r) => n + r.votes, 0);
  assert.ok(total < 40 && total > 0, `counted ${total}`);
});

test('the showcase rows are the same whatever the order and batching of the events', () => {
  const events = world();
  const reference = applyInBatches(events, videoChangesOf, mergeVideo, blankVideo);
  for (let run = 0; run < 25; run++) assert.deepEqual(applyInBatches(events, videoChangesOf, mergeVideo, blankVideo), reference);
  const rows = [...reference.values()];
  assert.equal(rows.filter((r) => r.published_at !== null && r.deleted_at === null).length, 4);
  // published twice: the later publication wins
  assert.equal(rows.filter((r) => r.title === 'T2').length, 1);
  assert.equal(rows.reduce((n, r) => n + r.votes, 0), 40);
});

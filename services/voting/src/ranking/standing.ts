/**
 * The ranking's rules as pure functions. Everything is a function of the *set* of events seen, never
 * of the order they arrived in (the inbox and the vote subscriber run concurrently, and a replay reads
 * them in log order), so a replay rebuilds exactly the live table:
 *
 * - a player's tally per video: votes (a count), the latest `castAt` among them, the latest publication
 *   and the latest deletion — each merged with +, max, max, max, which commute;
 * - a video counts while it is published and not deleted; votes for a video that was never published
 *   (unknown to voting) or has been deleted are kept on its tally but count for nobody;
 * - votes = the sum over counting videos; `reachedAt` = the latest castAt among the counted votes, i.e.
 *   the moment the player reached the current count (counting only votes that count now);
 * - order: votes desc, then reachedAt asc (earliest to reach the count first), then user id asc.
 */

export interface VideoTally {
  readonly votes: number;
  /** latest castAt among its votes (ISO), null without votes */
  readonly lastVoteAt: string | null;
  /** latest publication (ISO), null until VideoPublished */
  readonly publishedAt: string | null;
  /** latest deletion (ISO), null unless deleted */
  readonly deletedAt: string | null;
}

export type VideoTallies = Readonly<Record<string, VideoTally>>;

export const emptyTally: VideoTally = { votes: 0, lastVoteAt: null, publishedAt: null, deletedAt: null };

/** ISO-8601 UTC with milliseconds: one spelling per instant, so strings compare like times. */
export function normalTime(time: string | Date): string {
  return (typeof time === 'string' ? new Date(time) : time).toISOString();
}

function latest(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return a >= b ? a : b;
}

export function mergeTally(a: VideoTally, b: VideoTally): VideoTally {
  return {
    votes: a.votes + b.votes,
    lastVoteAt: latest(a.lastVoteAt, b.lastVoteAt),
    publishedAt: latest(a.publishedAt, b.publishedAt),
    deletedAt: latest(a.deletedAt, b.deletedAt),
  };
}

export function mergeTallies(a: VideoTallies, b: VideoTallies): VideoTallies {
  // (Object.assign, not a spread: V8 on Node 20 adds keys to a spread copy several times slower — bench:spread)
  const out: Record<string, VideoTally> = Object.assign({}, a);
  for (const [videoId, tally] of Object.entries(b)) out[videoId] = mergeTally(out[videoId] ?? emptyTally, tally);
  return out;
}

export const countsForRanking = (tally: VideoTally) => tally.publishedAt !== null && tally.deletedAt === null;

export interface Standing {
  readonly votes: number;
  readonly reachedAt: string | null;
  /** published, not deleted videos */
  readonly videos: number;
}

export function standingOf(videos: VideoTallies): Standing {
  let votes = 0;
  let reachedAt: string | null = null;
  let count = 0;
  for (const tally of Object.values(videos)) {
    if (!countsForRanking(tally)) continue;
    count++;
    votes += tally.votes;
    if (tally.votes > 0) reachedAt = latest(reachedAt, tally.lastVoteAt);
  }
  return { votes, reachedAt, videos: count };
}

export interface RankedPlayer {
  readonly userId: string;
  readonly votes: number;
  readonly reachedAt: string | null;
}

/** votes desc, then earliest to reach that count (no votes yet: first among equals), then user id. */
export function compareRanked(a: RankedPlayer, b: RankedPlayer): number {
  if (a.votes !== b.votes) return b.votes - a.votes;
  if (a.reachedAt !== b.reachedAt) {
    if (a.reachedAt === null) return -1;
    if (b.reachedAt === null) return 1;
    return a.reachedAt < b.reachedAt ? -1 : 1;
  }
  return a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0;
}

/** The profile part of a ranking row: the latest registration wins (ties: the larger event id). */
export interface PlayerProfile {
  readonly username: string;
  readonly city: string;
  readonly country: string;
  readonly registeredAt: string;
  readonly eventId: string;
}

export function laterProfile(a: PlayerProfile | undefined, b: PlayerProfile | undefined): PlayerProfile | undefined {
  if (!a) return b;
  if (!b) return a;
  if (a.registeredAt !== b.registeredAt) return a.registeredAt > b.registeredAt ? a : b;
  return a.eventId >= b.eventId ? a : b;
}

export const usernameOf = (firstName: string, lastName: string) => `${firstName.trim()} ${lastName.trim()}`;

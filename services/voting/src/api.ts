import { createHash, randomUUID } from 'node:crypto';
import { PublicVideosQuery, RankingsQuery, apiRoutes, pagination, type PublicVideo, type RankingRow } from '@anb/contracts';
import type { Logger } from '@anb/observability';
import {
  AppError,
  ConcurrencyError,
  Router,
  batchRoute,
  batchedCallMetadata,
  counter,
  isUuid,
  optionalUser,
  readQuery,
  requestMetadata,
  requireUser,
  type EventMetadata,
  type EventStore,
  type Knex,
} from '@anb/platform';
import { PageCache } from './pageCache';
import { foldForSearch } from './players/searchText';
import { rankingPage } from './ranking/rankingReads';
import { findVotableVideo, showcasePage } from './showcase/showcaseReads';
import type { SignedUrls } from './showcase/signedUrls';
import { Ballots } from './votes/ballots';
import { AlreadyVoted, VideoNotOpenForVotes, decide } from './votes/decide';
import { initialState, voteStream } from './votes/vote';

export interface VotingApiDeps {
  db: Knex;
  store: EventStore;
  signedUrls: SignedUrls;
  /** how long a public page is served from memory (0: never) */
  publicCacheMs: number;
  logger: Logger;
  now?: () => Date;
}

const voteRoute = apiRoutes.find((route) => route.operationId === 'vote')!;

/**
 * A showcase page: its items, the anonymous answer, and each item's bytes up to its `voted_by_me` value
 * (`,` but for the first, the item's JSON without its closing brace, `,"voted_by_me":`). Answers are kept as bytes:
 * a page is ~6 KB, and a string body is measured and encoded again on every answer.
 */
type ShowcaseView = { items: Omit<PublicVideo, 'voted_by_me'>[]; total: number; json: Buffer; itemHeads: Buffer[] };
type RankingView = { rows: RankingRow[]; total: number; json: Buffer; etag: string };

const votedTrue = Buffer.from('true}');
const votedFalse = Buffer.from('false}');
const opening = Buffer.from('[');
const closing = Buffer.from(']');

const votes = counter('anb.votes.cast', 'Votes recorded (their rate is votes/s); refused ones by reason', '{vote}');

/** Clients may keep a public page this long; the ranking changes within a second anyway. */
const publicCacheControl = 'public, max-age=1';

/** HTTP → queries and commands for the public part of the platform: showcase, votes, ranking. */
export function votingRoutes(deps: VotingApiDeps): Router {
  const router = new Router();
  const now = deps.now ?? (() => new Date());
  const showcase = new PageCache<ShowcaseView>(deps.publicCacheMs);
  const votable = new VotableVideos(deps.db);
  const ballots = new Ballots(deps.db);
  const rankings = new PageCache<RankingView>(deps.publicCacheMs);

  router.get('/api/public/videos', async (ctx) => {
    const query = readQuery(ctx, PublicVideosQuery);
    const userId = optionalUser(ctx);
    const page = query.page ?? pagination.defaultPage;
    const pageSize = query.page_size ?? pagination.defaultPageSize;
    const cityFolded = query.city === undefined ? undefined : foldForSearch(query.city);
    const view = await showcase.get(JSON.stringify([cityFolded ?? null, page, pageSize]), async () => {
      const { items, total } = await showcasePage(deps.db, { cityFolded, page, pageSize });
      const body = await Promise.all(
        items.map(async (v) => ({
          video_id: v.video_id,
          title: v.title,
          username: v.username,
          city: v.city,
          country: v.country,
          processed_url: await deps.signedUrls.urlFor(v.processed_key),
          votes: v.votes,
          published_at: v.published_at.toISOString(),
        })),
      );
      const openItems = body.map((item) => JSON.stringify(item).slice(0, -1));
      const itemHeads = openItems.map((item, i) => Buffer.from(`${i === 0 ? '' : ','}${item},"voted_by_me":`));
      return { items: body, total, json: Buffer.from(`[${openItems.map((item) => `${item}}`).join(',')}]`), itemHeads };
    });
    ctx.set('X-Total-Count', String(view.total));
    ctx.set('Vary', 'Authorization');
    if (!userId) {
      ctx.set('Cache-Control', publicCacheControl);
      ctx.type = 'application/json';
      ctx.body = view.json;
      return;
    }
    // per user: whether they voted, straight from the vote streams (their own vote shows at once)
    const voted = await ballots.votedBy(userId, view.items.map((i) => i.video_id));
    ctx.set('Cache-Control', 'private, no-store');
    // the cached items' bytes with the voter's flag after each: the page is not serialised again per reader
    ctx.type = 'application/json';
    const parts: Buffer[] = [opening];
    for (let i = 0; i < view.itemHeads.length; i++) parts.push(view.itemHeads[i]!, voted.has(view.items[i]!.video_id) ? votedTrue : votedFalse);
    parts.push(closing);
    ctx.body = Buffer.concat(parts);
  });

  /** one vote: the route's and each batched call's work (the same answers, errors and counts) */
  const castVote = async (voterId: string, given: string, metadata: Partial<EventMetadata>) => {
    if (!isUuid(given)) throw new AppError('VIDEO_NOT_FOUND');
    // one spelling per video: the stream id must not depend on the case a client used
    const videoId = given.toLowerCase();
    const video = await votable.find(videoId);
    try {
      // A vote stream holds at most one event, so the ballot is not read first: the append expects
      // the stream not to exist, which the store checks atomically — of concurrent identical votes
      // exactly one commits and the others get a ConcurrencyError, i.e. "already voted".
      const events = decide({ type: 'CastVote', data: { videoId, voterId, video }, metadata: { now: now(), voteId: randomUUID() } }, initialState());
      await deps.store.append(voteStream(videoId, voterId), events, { expectedVersion: 'no_stream', metadata });
      votes.add(1, { outcome: 'recorded' });
    } catch (error) {
      if (error instanceof VideoNotOpenForVotes) {
        votes.add(1, { outcome: 'video_not_found' });
        throw new AppError('VIDEO_NOT_FOUND');
      }
      if (error instanceof AlreadyVoted || error instanceof ConcurrencyError) {
        votes.add(1, { outcome: 'already_voted' });
        throw new AppError('ALREADY_VOTED');
      }
      throw error;
    }
    return { message: 'Voto registrado exitosamente.', video_id: videoId };
  };

  router.post('/api/public/videos/:video_id/vote', async (ctx) => {
    const voterId = requireUser(ctx);
    ctx.body = await castVote(voterId, String(ctx.params.video_id ?? ''), requestMetadata(ctx));
  });

  // the same votes in batches, as the gateway forwards the votes that arrive together (the route's batchPath)
  batchRoute(router, {
    path: voteRoute.batchPath!,
    name: 'POST /api/public/videos/{video_id}/vote',
    logger: deps.logger,
    handle: (call) => castVote(call.user_id.toLowerCase(), call.params.video_id ?? '', batchedCallMetadata(call)),
  });

  router.get('/api/public/rankings', async (ctx) => {
    const query = readQuery(ctx, RankingsQuery);
    const page = query.page ?? pagination.defaultPage;
    const pageSize = query.page_size ?? pagination.defaultPageSize;
    const cityFolded = query.city === undefined ? undefined : foldForSearch(query.city);
    const countryFolded = query.country === undefined ? undefined : foldForSearch(query.country);
    const view = await rankings.get(JSON.stringify([cityFolded ?? null, countryFolded ?? null, page, pageSize]), async () => {
      const { rows, total } = await rankingPage(deps.db, { cityFolded, countryFolded, page, pageSize });
      const json = JSON.stringify(rows);
      const etag = `W/"${createHash('sha256').update(json).update(`|${total}`).digest('base64url').slice(0, 27)}"`;
      return { rows, total, json: Buffer.from(json), etag };
    });
    ctx.set('ETag', view.etag);
    ctx.set('Cache-Control', publicCacheControl);
    ctx.set('X-Total-Count', String(view.total));
    if (matchesEtag(ctx.get('if-none-match'), view.etag)) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'application/json';
    ctx.body = view.json;
  });

  return router;
}

/**
 * If-None-Match against our (weak) ETag, compared weakly (RFC 9110 §13.1.2). Evaluated even when the
 * request says `Cache-Control: no-cache` — which fetch adds to every conditional request — since that
 * directive is for caches on the way, not for the origin (Koa's `ctx.fresh` would answer 200 instead).
 */
export function matchesEtag(ifNoneMatch: string, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => opaque(tag) === opaque(etag));
}

/** thrown inside a lookup, so that a video not open for votes is not remembered */
const notVotable = Symbol('not open for votes');

/**
 * Which videos are open for votes, remembered for a second when they are (never when they are not):
 * a burst of votes for a popular video reads it once. Votes that arrive while the video is being
 * looked up wait for that lookup instead of each asking the database (50 at once when the second
 * ends, otherwise). A deletion reaches voting through the queue anyway, seconds later; a vote in
 * that second is ignored by the read models like any late one.
 */
class VotableVideos {
  private readonly cache: PageCache<{ ownerId: string }>;

  constructor(
    private readonly db: Knex,
    ttlMs = 1000,
    maxEntries = 10_000,
  ) {
    // PageCache shares a lookup in flight and forgets a failed one
    this.cache = new PageCache(ttlMs, maxEntries);
  }

  find(videoId: string): Promise<{ ownerId: string } | undefined> {
    return this.cache
      .get(videoId, async () => {
        const video = await findVotableVideo(this.db, videoId);
        if (!video) throw notVotable;
        return video;
      })
      .catch((error: unknown) => {
        if (error === notVotable) return undefined;
        throw error;
      });
  }
}

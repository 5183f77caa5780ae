import type { Logger } from '@anb/observability';
import { declaresBody, directRequests, type Context, type DirectHandler, type Next } from '@anb/platform';

interface Entry {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  expires: number;
  /** past `expires` it is still answered while one request refreshes it, until this time */
  staleUntil: number;
  /** the route it was filled through (the metrics' http.route of a hit answered before the router) */
  route: string | undefined;
}

const keptHeaders = ['content-type', 'etag', 'x-total-count', 'cache-control', 'last-modified'];

/** only anonymous GETs are cached: with a user, voted_by_me differs per user */
const anonymousGet = (ctx: Context) => ctx.method === 'GET' && !ctx.get('authorization');

/**
 * A tiny per-task cache for anonymous GETs of public pages (rankings, the showcase): an entry lives
 * `ttlMs` (a fraction of a second, well inside the "a vote shows within 1 s" promise), concurrent misses
 * for one URL share a single upstream call, and `If-None-Match` is answered 304 from it. Requests with
 * a user (voted_by_me differs per user) always go through.
 *
 * When an entry expires, the first request asks the service again; requests that come while that call
 * is out get the entry they would have got a moment earlier (`x-cache: stale`), for up to another
 * `ttlMs`, instead of all waiting on the service at once every `ttlMs`. Older than that, they wait.
 */
export class MicroCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Entry | undefined>>();

  constructor(private readonly maxEntries = 1000) {}

  /**
   * Answers from memory before routing (mounted ahead of the router): a hit, or a stale page while it
   * is being asked for again, then costs no route matching and no middleware of its route. Anything else goes on to the route, whose `middleware`
   * fills the cache.
   */
  early() {
    return (ctx: Context, next: Next) => {
      const served = anonymousGet(ctx) ? this.servable(ctx.url) : undefined;
      if (!served) return next();
      (ctx as { _matchedRoute?: string })._matchedRoute = served.entry.route;
      ctx.set('x-cache', served.cache);
      this.answer(ctx, served.entry);
      return undefined;
    };
  }

  /**
   * What `early()` answers, answered in front of Koa (a `DirectHandler`, so a hit costs no Koa context
   * and no platform layers either): an anonymous GET without a body that memory can serve, with the
   * same status, headers and body (app.test.ts compares both ways), its request id, trace headers and
   * route, access log line and duration metric. Anything else is left to Koa.
   */
  direct(logger: Logger): DirectHandler {
    const start = directRequests(logger);
    return (req, res) => {
      const headers = req.headers;
      if (req.method !== 'GET' || headers.authorization || declaresBody(headers)) return false;
      const served = this.servable(req.url ?? '');
      if (!served) return false;
      const { entry } = served;
      const request = start(req, entry.route);
      // (Object.assign, not spreads: V8 on Node 20 adds keys after a spread several times slower — bench:spread)
      const common: Record<string, string | number> = Object.assign({}, request.headers, { 'x-cache': served.cache });
      const etag = entry.headers.etag;
      let status: number;
      if (etag && headers['if-none-match'] === etag) {
        status = 304;
        common.etag = etag;
        res.writeHead(304, common);
        res.end();
      } else {
        status = entry.status;
        Object.assign(common, entry.headers);
        common['content-length'] = entry.body.length;
        res.writeHead(status, common);
        res.end(entry.body);
      }
      request.answered(status);
      return true;
    };
  }

  middleware(ttlMs: number) {
    return async (ctx: Context, next: Next) => {
      if (ttlMs <= 0 || !anonymousGet(ctx)) return next();
      const key = ctx.url;
      const served = this.servable(key);
      if (served) {
        ctx.set('x-cache', served.cache);
        this.answer(ctx, served.entry);
        return;
      }
      let entry: Entry | undefined;
      let flight = this.pending.get(key);
      if (!flight) {
        flight = this.fill(ctx, next, key, ttlMs).finally(() => this.pending.delete(key));
        this.pending.set(key, flight);
        entry = await flight;
        if (!entry) return; // not cacheable: this request already has its own answer
        ctx.set('x-cache', 'miss');
      } else {
        entry = await flight;
        if (!entry) return next();
        ctx.set('x-cache', 'hit');
      }
      this.answer(ctx, entry);
    };
  }

  /** what memory can answer now: a fresh entry, or an expired one while it is being asked for again (and not too old) */
  private servable(key: string): { entry: Entry; cache: 'hit' | 'stale' } | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const now = Date.now();
    if (entry.expires > now) return { entry, cache: 'hit' };
    return this.pending.has(key) && entry.staleUntil > now ? { entry, cache: 'stale' } : undefined;
  }

  private answer(ctx: Context, entry: Entry): void {
    const etag = entry.headers.etag;
    if (etag && ctx.get('if-none-match') === etag) {
      ctx.status = 304;
      ctx.set('etag', etag);
      return;
    }
    ctx.status = entry.status;
    ctx.set(entry.headers);
    ctx.body = entry.body;
  }

  private async fill(ctx: Context, next: Next, key: string, ttlMs: number): Promise<Entry | undefined> {
    // ask the service without the client's validator, so the full page can be cached
    const validator = ctx.get('if-none-match');
    if (validator) delete ctx.req.headers['if-none-match'];
    await next();
    if (validator) ctx.req.headers['if-none-match'] = validator;
    if (ctx.status !== 200 || !Buffer.isBuffer(ctx.body)) return undefined;
    const headers: Record<string, string> = {};
    for (const name of keptHeaders) {
      const value = ctx.response.get(name);
      if (value) headers[name] = String(value);
    }
    const route = (ctx as { _matchedRoute?: string })._matchedRoute;
    const now = Date.now();
    const entry = { status: 200, headers, body: ctx.body, expires: now + ttlMs, staleUntil: now + 2 * ttlMs, route: typeof route === 'string' ? route : undefined };
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, entry);
    return entry;
  }
}

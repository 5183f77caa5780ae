import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Readable } from 'node:stream';
import { context, propagation } from '@opentelemetry/api';
import type { Dispatcher } from 'undici';
import { routerPath, type RouteSpec } from '@anb/contracts';
import type { Logger } from '@anb/observability';
import { declaresBody, directRequests, type DirectHandler } from '@anb/platform';
import type { TokenVerifier } from './authenticate';
import { answerForUser, pathPattern, plainBearerToken, type DirectRequest } from './directCalls';
import { exchange, forwardHeaders, hopByHop, sharedDispatcher, upstreamFailure, type Exchanged, type ProxyOptions, type Upstream } from './proxy';

export interface DirectRead {
  readonly route: RouteSpec;
  readonly upstream: Upstream;
}

/**
 * Reads with a token, answered in front of Koa: a GET of a route that takes a user (the signed-in
 * showcase with `voted_by_me`, a player's own videos, `me`), forwarded to its service as `proxyTo`
 * forwards it through Koa — the same headers both ways, the same answer — without Koa's context, the
 * platform's layers and the router. A signed-in showcase page is the page every fan who has logged in
 * sees; the anonymous one is served from memory (MicroCache), this one cannot be (it differs per user).
 *
 * Plain means, as for votes (`directBatchedCalls`): the route's exact path (any query string, passed on
 * as it came), no body, a token written plainly, and a Host / X-Forwarded-Host without userinfo.
 * Anything else goes to Koa untouched; app.test.ts compares the answers both ways case by case.
 */
export function directForwardedReads(options: { reads: readonly DirectRead[]; verifier: TokenVerifier; logger: Logger; proxy: ProxyOptions }): DirectHandler | undefined {
  if (options.reads.length === 0) return undefined;
  const { logger, verifier } = options;
  const dispatcher = options.proxy.dispatcher ?? sharedDispatcher;
  const timeoutMs = options.proxy.timeoutMs;
  const start = directRequests(logger);
  const reads = options.reads.map(({ route, upstream }) => ({ name: routerPath(route.path), pattern: pathPattern(route.path).pattern, upstream, origin: new URL(upstream.baseUrl).origin }));

  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET') return false;
    const url = req.url ?? '';
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    let read: (typeof reads)[number] | undefined;
    for (const candidate of reads) {
      if (candidate.pattern.test(path)) {
        read = candidate;
        break;
      }
    }
    if (!read || declaresBody(req.headers)) return false;
    const token = plainBearerToken(req.headers.authorization);
    if (!token) return false;
    const host = hostOf(req);
    if (host === undefined) return false;

    const request = start(req, read.name);
    const target: Target = { upstream: read.upstream, origin: read.origin, dispatcher, timeoutMs, host };
    answerForUser(
      { logger, verifier, req, res, request },
      token,
      (userId) => forward(target, req, request, userId),
      (answer) => send(res, request, answer),
    );
    return true;
  };
}

interface Target {
  upstream: Upstream;
  origin: string;
  dispatcher: Dispatcher;
  timeoutMs: number;
  /** the request's host as Koa reads it */
  host: string;
}

/** the call to the service, as `proxyTo` makes it */
function forward(target: Target, req: IncomingMessage, request: DirectRequest, userId: string): Promise<Exchanged> {
  const headers = forwardHeaders(req.headers, { requestId: request.requestId, peer: req.socket.remoteAddress ?? '', protocol: protocolOf(req), host: target.host, userId });
  // the http instrumentation does not see undici: carry the trace to the service by hand
  propagation.inject(context.active(), headers);
  return exchange(target.dispatcher, {
    origin: target.origin,
    path: req.url ?? '',
    method: 'GET',
    headers,
    body: null,
    headersTimeout: target.timeoutMs,
    bodyTimeout: target.timeoutMs,
  }).catch((error: unknown) => {
    throw upstreamFailure(target.upstream, error);
  });
}

/** statuses whose answers have no body (Koa empties them) */
const bodiless = new Set([204, 205, 304]);

/** The service's answer as Koa would give it after `proxyTo`: the request's own headers, then the service's (not hop-by-hop, not its request id), the body's length. */
function send(res: ServerResponse, request: DirectRequest, answer: Exchanged): void {
  const headers: Record<string, string | string[] | number> = Object.assign({}, request.headers);
  for (const name in answer.headers) {
    const value = answer.headers[name];
    if (value !== undefined && !hopByHop.has(name) && name !== 'x-request-id') headers[name] = value;
  }
  const status = answer.statusCode;
  if (bodiless.has(status)) {
    if (!Buffer.isBuffer(answer.body)) answer.body.destroy();
    delete headers['content-type'];
    delete headers['content-length'];
    res.writeHead(status, headers);
    res.end();
    request.answered(status);
    return;
  }
  // (Koa names a body without a type binary)
  if (headers['content-type'] === undefined) headers['content-type'] = 'application/octet-stream';
  if (Buffer.isBuffer(answer.body)) {
    headers['content-length'] = answer.body.length;
    res.writeHead(status, headers);
    res.end(answer.body);
    request.answered(status);
    return;
  }
  // a large or unsized answer streams through; a client that leaves stops the call to the service
  const body: Readable = answer.body;
  res.writeHead(status, headers);
  body.on('error', () => res.destroy());
  res.once('close', () => {
    if (!res.writableFinished) body.destroy();
  });
  body.pipe(res);
  res.once('finish', () => request.answered(status));
}

/** Koa's `ctx.protocol` behind a proxy (`app.proxy`): https on TLS, else X-Forwarded-Proto's first value, else http */
function protocolOf(req: IncomingMessage): string {
  if ((req.socket as TLSSocket).encrypted) return 'https';
  const proto = req.headers['x-forwarded-proto'];
  return proto ? String(proto).split(',', 1)[0]!.trim().toLowerCase() : 'http';
}

/** Koa's `ctx.host` behind a proxy: X-Forwarded-Host's first value, else Host; undefined (left to Koa) when it carries userinfo */
function hostOf(req: IncomingMessage): string | undefined {
  const given = req.headers['x-forwarded-host'] || (req.httpVersionMajor >= 2 ? (req.headers[':authority'] as string | undefined) : undefined) || req.headers.host;
  if (!given) return '';
  const host = (Array.isArray(given) ? given.join(', ') : given).split(',', 1)[0]!.trim();
  return host.includes('@') ? undefined : host;
}

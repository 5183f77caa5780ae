import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, propagation } from '@opentelemetry/api';
import { routerPath, type BatchedCall, type RouteSpec } from '@anb/contracts';
import type { Logger } from '@anb/observability';
import { declaresBody, directRequests, failureResponse, type DirectHandler } from '@anb/platform';
import type { TokenVerifier } from './authenticate';
import { fitsBatch, outcomeError, type BatchedForwarding } from './batchedProxy';

export interface DirectRoute {
  readonly route: RouteSpec;
  readonly forwarding: BatchedForwarding;
}

/**
 * The plain calls of the routes forwarded in batches (votes), answered in front of Koa: a call with
 * nothing for the middleware to do but check its token, stamp its request id and hand it to the
 * batch. In bench:gateway that halves the gateway's CPU per vote (152 → 82–86 µs, about what a bare
 * Koa hello-world costs per request): Koa's context, its six platform layers and the router cost
 * more than the forwarding itself.
 *
 * Plain means: the route's method and exact path (no query, no trailing slash, parameters of
 * unreserved characters that need no decoding and fit a batch), no body, and a token written plainly
 * (`Bearer <header.payload.signature>`). A token verified before is looked up at once; a new one is
 * verified here as `authenticate` would. Anything else — a body, an odd path or header, a trace state
 * too long for a batch — goes to Koa untouched, where the route does everything itself; the answers
 * are the same either way (app.test.ts compares them case by case).
 * What the platform's layers do is done here with their own pieces: `directRequests` (request id,
 * trace headers, the route on the server span, access log line, duration metric) and
 * `failureResponse` (the uniform error body and its logging).
 */
export function directBatchedCalls(options: { routes: readonly DirectRoute[]; verifier: TokenVerifier; logger: Logger }): DirectHandler | undefined {
  if (options.routes.length === 0) return undefined;
  const { logger, verifier } = options;
  const start = directRequests(logger);
  const routes = options.routes.map(({ route, forwarding }) => ({ method: route.method, name: routerPath(route.path), ...pathPattern(route.path), forwarding }));

  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    let route: (typeof routes)[number] | undefined;
    let match: RegExpExecArray | null = null;
    for (const candidate of routes) {
      if (candidate.method === req.method && (match = candidate.pattern.exec(url))) {
        route = candidate;
        break;
      }
    }
    if (!route || !match) return false;
    if (declaresBody(req.headers)) return false;
    const params: Record<string, string> = {};
    route.params.forEach((name, i) => (params[name] = match[i + 1]!));
    const carrier: Record<string, string> = {};
    propagation.inject(context.active(), carrier);
    const trace = {
      ...(carrier.traceparent ? { traceparent: carrier.traceparent } : {}),
      ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}),
    };
    if (!fitsBatch({ request_id: '', user_id: '', params, ...trace })) return false;
    const token = plainBearerToken(req.headers.authorization);
    if (!token) return false;

    const request = start(req, route.name);
    answerForUser(
      { logger, verifier, req, res, request },
      token,
      (userId) => route.forwarding.forward(batchedCall(request.requestId, userId, params, trace)),
      (outcome) => ('error' in outcome ? fail(logger, req, res, request, outcomeError(outcome)) : answer(res, request, outcome.status, outcome.body)),
    );
    return true;
  };
}

export type DirectRequest = ReturnType<ReturnType<typeof directRequests>>;

/** One call taken in front of Koa: where it came from and how it is answered. */
export interface DirectCall {
  logger: Logger;
  verifier: TokenVerifier;
  req: IncomingMessage;
  res: ServerResponse;
  request: DirectRequest;
}

/**
 * Does a direct call's work for the user of its plain token — at once when the verifier has checked
 * that token before, else once it is verified as `authenticate` would (401, or 503 when auth's keys
 * cannot be fetched) — and `send`s the result; any failure is answered with the uniform error body.
 * (The functions given are anonymous: run through tsx, a function named per call costs ~0.45 µs to
 * name — bench:spread.)
 */
export function answerForUser<T>(call: DirectCall, token: string, work: (userId: string) => Promise<T>, send: (result: T) => void): void {
  const { logger, verifier, req, res, request } = call;
  const known = verifier.verified?.(token);
  (known ? work(known) : verifier.verify(token).then(work))
    .then(send, (error: unknown) => fail(logger, req, res, request, error))
    .catch((error: unknown) => {
      // (the answer could not be written: nothing is left to tell the client)
      logger.error({ request_id: request.requestId, err: error, method: req.method, path: req.url ?? '' }, 'direct call: the answer could not be written');
      res.destroy();
    });
}

function batchedCall(requestId: string, userId: string, params: Record<string, string>, trace: { traceparent?: string; tracestate?: string }): BatchedCall {
  return { request_id: requestId, user_id: userId, params, ...trace };
}

/** the answer, with the request's own headers */
export function answer(res: ServerResponse, request: DirectRequest, status: number, body: unknown, extra?: Record<string, string>): void {
  const json = body === undefined ? '' : JSON.stringify(body);
  // (Object.assign, not spreads: V8 on Node 20 adds keys after a spread several times slower — bench:spread)
  const headers: Record<string, string | number> = Object.assign({}, request.headers, extra);
  if (json) headers['content-type'] = 'application/json; charset=utf-8';
  headers['content-length'] = Buffer.byteLength(json);
  res.writeHead(status, headers);
  res.end(json);
  request.answered(status);
}

/** a refused or failed call: 401 for a bad token, 503 when auth's keys cannot be fetched, the service's error… (the uniform body, logged) */
export function fail(logger: Logger, req: IncomingMessage, res: ServerResponse, request: DirectRequest, error: unknown): void {
  const failure = failureResponse(logger, error, request.requestId, { method: req.method, path: req.url ?? '' });
  answer(res, request, failure.status, failure.body, failure.headers);
}

/**
 * The token of `Bearer <header.payload.signature>` written plainly (the scheme as spelled here, one space,
 * nothing after), which `bearerToken` reads the same; else undefined (Koa's way reads the rest).
 */
export function plainBearerToken(authorization: string | undefined): string | undefined {
  if (!authorization?.startsWith('Bearer ')) return undefined;
  const token = authorization.slice(7);
  return plainJwt.test(token) ? token : undefined;
}

const plainJwt = /^[\w-]+\.[\w-]+\.[\w-]+$/;

/** `/api/public/videos/{video_id}/vote` → a pattern of the exact path, each parameter of unreserved characters (RFC 3986) */
export function pathPattern(path: string): { pattern: RegExp; params: string[] } {
  const params: string[] = [];
  const source = path
    .split(/(\{[a-z_]+\})/)
    .map((part) => {
      const param = /^\{([a-z_]+)\}$/.exec(part);
      if (!param) return part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      params.push(param[1]!);
      return '([A-Za-z0-9._~-]+)';
    })
    .join('');
  return { pattern: new RegExp(`^${source}$`), params };
}

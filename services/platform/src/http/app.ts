import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import Koa, { type Context, type Next } from 'koa';
import Router from '@koa/router';
import { ZodError } from 'zod';
import { errorCatalogue, type ErrorBody, type ErrorCode } from '@anb/contracts';
import { activeSpanContext, activeTraceparent, setActiveHttpRoute, toXrayTraceId, type Logger } from '@anb/observability';
import { AppError, fieldErrors } from '../errors';
import type { EventMetadata } from '../eventstore/types';
import { httpMetrics, requestDurations } from '../metrics';
import { runHealthChecks, type HealthCheck } from './health';
import { optionalUser } from './identity';

export { Router };
export type { Context, Next };

export interface HttpAppOptions {
  service: string;
  version: string;
  logger: Logger;
  router: Router;
  health?: readonly HealthCheck[];
  /** run after ids, logs, metrics and error handling but before any routing (the gateway's cache hits) */
  beforeRouting?: readonly Koa.Middleware[];
}

const requestIdPattern = /^[\w.:-]{1,128}$/;

/**
 * The request id: the caller's `x-request-id` when sane, else a new one; echoed on the response and
 * kept in `ctx.state.requestId`. It is passed on explicitly — the access and error log lines carry it,
 * and handlers that record events give them `requestMetadata(ctx)` — not through AsyncLocalStorage:
 * on Node 20 an active AsyncLocalStorage puts a hook on every promise the process creates, about a
 * tenth of the CPU a vote costs in voting and the gateway (measured: issue 4's note).
 */
export function requestId(): Koa.Middleware {
  return (ctx, next) => {
    const id = requestIdOf(ctx.get('x-request-id'));
    ctx.state.requestId = id;
    ctx.set('x-request-id', id);
    return next();
  };
}

/** The caller's `x-request-id` when sane (1–128 of letters, digits and `_.:-`), else a new one. */
export function requestIdOf(given: string | string[] | undefined): string {
  return typeof given === 'string' && requestIdPattern.test(given) ? given : randomUUID();
}

/**
 * What an event recorded while serving this request says about it: the request id as correlation and
 * causation id (a chain of events started by a request is found by it) and the signed-in user as actor.
 * Pass it as the append's `metadata`; the store adds the trace context.
 */
export function requestMetadata(ctx: Context): Partial<EventMetadata> & { correlationId: string; causationId: string } {
  return requestEventMetadata(String(ctx.state.requestId ?? '') || randomUUID(), optionalUser(ctx));
}

/** The metadata of events recorded for request `requestId` of `userId` (also a call forwarded in a batch). */
export function requestEventMetadata(requestId: string, userId: string | undefined): Partial<EventMetadata> & { correlationId: string; causationId: string } {
  return { correlationId: requestId, causationId: requestId, requestId, ...(userId ? { actor: userId } : {}) };
}

/** a body still unread when the answer is ready is read and dropped up to this size; beyond, the connection is closed */
const maxDiscardedBytes = 128 * 1024 * 1024;

/**
 * An answer ready before the client finished sending its body (401 on an upload, 413, a replayed
 * Idempotency-Key, an early 400 from probing the first bytes) goes out once the rest of the body has
 * been read and dropped, so the exchange stays the plain request-then-response that every client
 * handles and the connection stays usable. A body too large to be worth reading (over 128 MiB to
 * go) or a client that goes away gets `Connection: close` instead.
 */
export function discardUnreadBody(): Koa.Middleware {
  return (ctx, next) => {
    const req = ctx.req;
    // most requests carry no body: nothing to wrap
    if (!declaresBody(req.headers)) return next();
    return next().finally(async () => {
      if (!req.complete && !(await discardRest(req, Number(req.headers['content-length'] ?? 0)))) ctx.set('Connection', 'close');
    });
  };
}

/** Whether a request says it sends a body: a length over 0, or a transfer encoding (chunks). */
export function declaresBody(headers: IncomingHttpHeaders): boolean {
  return Number(headers['content-length'] ?? 0) > 0 || headers['transfer-encoding'] !== undefined;
}

/** Reads what is left of a request body and drops it; false when it is too much or the client left. */
function discardRest(req: Koa.Context['req'], declared: number): Promise<boolean> {
  if (declared > 0 && declared - req.socket.bytesRead > maxDiscardedBytes) return Promise.resolve(false);
  return new Promise((resolve) => {
    let seen = 0;
    const done = (ok: boolean) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      resolve(ok);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxDiscardedBytes) done(false);
    };
    const onEnd = () => done(true);
    const onClose = () => done(req.complete);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
    req.resume();
  });
}

/** Trace headers on every response, so an operator can jump from a response to its trace. */
export function traceHeaders(): Koa.Middleware {
  // (set before the request is handled: nothing to wait for, so no async layer of its own)
  return (ctx, next) => {
    const headers = traceHeaderValues();
    if (headers) ctx.set(headers);
    return next();
  };
}

/** The trace headers of the request being served (its span is the active one), if it is traced. */
export function traceHeaderValues(): Record<string, string> | undefined {
  const sc = activeSpanContext();
  if (!sc) return undefined;
  return { traceparent: activeTraceparent()!, 'x-trace-id': sc.traceId, 'x-amzn-trace-id': `Root=${toXrayTraceId(sc.traceId)}` };
}

export function errorBody(ctx: Context, code: ErrorCode, message?: string, errors?: ErrorBody['errors']): ErrorBody {
  return errorBodyOf(String(ctx.state.requestId ?? ''), code, message, errors);
}

/** The uniform error body of request `requestId`. */
export function errorBodyOf(requestId: string, code: ErrorCode, message?: string, errors?: ErrorBody['errors']): ErrorBody {
  return {
    message: message ?? errorCatalogue[code].message,
    code,
    ...(errors && errors.length > 0 ? { errors } : {}),
    request_id: requestId,
  };
}

const statusCodes: Record<number, ErrorCode> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  501: 'METHOD_NOT_ALLOWED',
  503: 'SERVICE_UNAVAILABLE',
};

/** What a failure answers: status, code, message (and field errors, headers). `expected`: false for a bug (a 500 to log). */
export interface ErrorAnswer {
  status: number;
  code: ErrorCode;
  message: string;
  errors?: ErrorBody['errors'];
  headers?: Record<string, string>;
  expected: boolean;
}

/**
 * Every failure's answer, mapped in this one place: AppErrors with their status, zod errors as 400
 * VALIDATION_ERROR, HTTP errors from Koa by status, anything else a 500 INTERNAL_ERROR (not expected:
 * the caller logs it with its stack; the client never sees it).
 */
export function errorAnswer(error: unknown): ErrorAnswer {
  if (error instanceof AppError) {
    return { status: error.status, code: error.code, message: error.message, ...(error.errors ? { errors: error.errors } : {}), ...(error.headers ? { headers: error.headers } : {}), expected: true };
  }
  if (error instanceof ZodError) {
    return { status: 400, code: 'VALIDATION_ERROR', message: errorCatalogue.VALIDATION_ERROR.message, errors: fieldErrors(error.issues), expected: true };
  }
  const status = (error as { status?: number; statusCode?: number }).status ?? (error as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = statusCodes[status] ?? 'VALIDATION_ERROR';
    const headers = (error as { headers?: Record<string, string> }).headers;
    return { status: status === 501 ? 405 : status, code, message: errorCatalogue[code].message, ...(headers ? { headers } : {}), expected: true };
  }
  return { status: 500, code: 'INTERNAL_ERROR', message: errorCatalogue.INTERNAL_ERROR.message, expected: false };
}

/**
 * Logs a failure as answered: anything unexpected as an error with its stack and `where` it happened,
 * AppErrors of 5xx as warnings, the rest not.
 */
export function logFailure(logger: Logger, error: unknown, answer: ErrorAnswer, requestId: unknown, where: Record<string, unknown>): void {
  if (!answer.expected) logger.error({ request_id: requestId, err: error, ...where }, 'unhandled error');
  else if (error instanceof AppError && error.status >= 500) logger.warn({ request_id: requestId, code: error.code, cause: (error.cause as Error | undefined)?.message }, error.message);
}

/** Every failure becomes the uniform JSON error body (`errorAnswer`), logged by `logFailure`, never shown beyond it. */
export function errorHandler(logger: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = errorBody(ctx, 'NOT_FOUND');
      } else if ((ctx.status === 405 || ctx.status === 501) && !ctx.body) {
        // the router set Allow; the body follows the contract
        ctx.status = 405;
        ctx.body = errorBody(ctx, 'METHOD_NOT_ALLOWED');
      }
    } catch (error) {
      const failure = failureResponse(logger, error, String(ctx.state.requestId ?? ''), { method: ctx.method, path: ctx.path });
      ctx.status = failure.status;
      if (failure.headers) ctx.set(failure.headers);
      ctx.body = failure.body;
    }
  };
}

/** What a request that failed with `error` answers (the uniform body, `errorAnswer`), logged as `logFailure` logs it. */
export function failureResponse(logger: Logger, error: unknown, requestId: string, where: Record<string, unknown>): { status: number; headers?: Record<string, string>; body: ErrorBody } {
  const answer = errorAnswer(error);
  logFailure(logger, error, answer, requestId, where);
  return { status: answer.status, ...(answer.headers ? { headers: answer.headers } : {}), body: errorBodyOf(requestId, answer.code, answer.message, answer.errors) };
}

/** One line per request with method, route, status and duration (health probes only at debug). */
export function accessLog(logger: Logger): Koa.Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      logRequest(logger, { request_id: ctx.state.requestId as string | undefined, method: ctx.method, path: ctx.path, status: ctx.status, ms: performance.now() - started });
    }
  };
}

/** The access log line of a request (health probes only at debug, 5xx as errors). */
export function logRequest(logger: Logger, request: { request_id: string | undefined; method: string; path: string; status: number; ms: number }): void {
  const line = { ...request, ms: Math.round(request.ms * 10) / 10 };
  if (line.path === '/health' || line.path.endsWith('/health')) logger.debug(line, 'request');
  else if (line.status >= 500) logger.error(line, 'request');
  else logger.info(line, 'request');
}

/** A request answered in front of the app's layers (a `DirectHandler`), with what those layers would have given it. */
export interface DirectRequest {
  readonly requestId: string;
  /** what every answer carries: the request id and the trace headers */
  readonly headers: Readonly<Record<string, string>>;
  /** the access log line and the duration metric, once the answer is written */
  answered(status: number): void;
}

/**
 * What the platform's layers do for a request a `DirectHandler` answers in front of them — its
 * request id (`requestIdOf`), its route on the server span, the request id and trace headers on the
 * answer, the access log line (`logRequest`) and the duration metric — in one place, for every such
 * handler. Start it once the handler takes the request, while the request's span is the active one.
 */
export function directRequests(logger: Logger): (req: IncomingMessage, route: string | undefined) => DirectRequest {
  const recordDuration = requestDurations();
  return (req, route) => {
    const started = performance.now();
    const requestId = requestIdOf(req.headers['x-request-id']);
    if (route) setActiveHttpRoute(route);
    const method = req.method ?? 'GET';
    const path = (req.url ?? '').split('?', 1)[0]!;
    return {
      requestId,
      headers: { 'x-request-id': requestId, ...traceHeaderValues() },
      answered(status) {
        const ms = performance.now() - started;
        logRequest(logger, { request_id: requestId, method, path, status, ms });
        recordDuration(method, route ?? 'unmatched', status, ms / 1000);
      },
    };
  };
}

/**
 * A service's Koa app: request ids, trace headers, access log, the uniform error body for every
 * failure (404/405/413/400 included), `/health` with dependency checks, then the service's routes.
 */
export function createHttpApp(options: HttpAppOptions): Koa {
  const app = new Koa();
  app.proxy = true;
  app.maxIpsCount = 1; // the address the load balancer appended, not one a client wrote
  app.silent = true; // errors are logged by errorHandler, not printed by Koa
  // GET /health with the dependency checks (a path test, not a router of its own, in front of every request)
  const health: Koa.Middleware = async (ctx, next) => {
    if (ctx.path !== '/health') return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'HEAD, GET');
      ctx.status = 405;
      return;
    }
    const report = await runHealthChecks(options.health ?? [], { version: options.version, service: options.service });
    ctx.status = report.status === 'healthy' ? 200 : 503;
    ctx.body = report;
  };
  app.use(discardUnreadBody());
  app.use(requestId());
  app.use(traceHeaders());
  app.use(accessLog(options.logger));
  app.use(httpMetrics());
  app.use(errorHandler(options.logger));
  for (const middleware of options.beforeRouting ?? []) app.use(middleware);
  app.use(health);
  app.use(options.router.routes());
  app.use(options.router.allowedMethods());
  return app;
}

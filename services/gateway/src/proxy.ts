import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable, Transform } from 'node:stream';
import { context, propagation } from '@opentelemetry/api';
import { Agent, errors as undiciErrors, util as undiciUtil, type Dispatcher } from 'undici';
import type { RouteSpec } from '@anb/contracts';
import { AppError, userIdHeader, type Context } from '@anb/platform';

/** Headers that describe one connection, not the message: never forwarded (RFC 9110 §7.6.1). */
export const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

export interface Upstream {
  readonly name: string;
  readonly baseUrl: string;
}

export interface ProxyOptions {
  timeoutMs: number;
  uploadTimeoutMs: number;
  dispatcher?: Agent;
}

/** answers up to this size are read whole and sent with a Content-Length; larger ones are streamed */
const bufferedAnswerBytes = 1024 * 1024;

// undici's pooled keep-alive client: a proxied call costs a fraction of node:http's
export const sharedDispatcher = new Agent({ connections: 256, keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000 });

/**
 * Forwards a request to the service that owns the route. Uploads stream both ways (a video never sits
 * in the gateway's memory) and are cut off at the route's limit; the small JSON bodies of every other
 * route are read whole (same limit), and answers up to 1 MiB are read whole too — a streamed pipe per
 * request costs more than the bytes (`exchange`, on undici's dispatcher directly). The client's
 * Authorization and any x-anb-user-id it sent are dropped; the verified user id is passed instead,
 * with the trace context. An unreachable service answers 503, a slow one 504.
 */
export function proxyTo(upstream: Upstream, route: RouteSpec, options: ProxyOptions) {
  const isUpload = route.body?.contentType === 'multipart/form-data';
  const timeoutMs = isUpload ? options.uploadTimeoutMs : options.timeoutMs;
  const limit = route.maxBodyBytes;
  const tooLarge = () => new AppError(isUpload ? 'FILE_TOO_LARGE' : 'PAYLOAD_TOO_LARGE');
  const dispatcher = options.dispatcher ?? sharedDispatcher;
  return async (ctx: Context) => {
    const declared = Number(ctx.get('content-length') || NaN);
    if (limit !== undefined && declared > limit) throw tooLarge();
    const headers = forwardHeaders(ctx.req.headers, {
      requestId: String(ctx.state.requestId),
      peer: ctx.req.socket.remoteAddress ?? '',
      protocol: ctx.protocol,
      host: ctx.host,
      userId: ctx.state.userId ? String(ctx.state.userId) : undefined,
    });
    // the http instrumentation does not see undici: carry the trace to the service by hand
    propagation.inject(context.active(), headers);
    const hasBody = !(ctx.method === 'GET' || ctx.method === 'HEAD' || (declared === 0 && !ctx.get('transfer-encoding')));

    let body: Readable | Buffer | undefined;
    let abort: AbortController | undefined;
    let rejected: AppError | undefined;
    let onClientGone: (() => void) | undefined;
    let limiter: Transform | undefined;
    if (hasBody && isUpload) {
      // streamed: a client that goes away, or a body over the limit, stops the upstream call at once
      abort = new AbortController();
      const controller = abort;
      onClientGone = () => {
        if (!ctx.req.complete) controller.abort();
      };
      ctx.req.once('close', onClientGone);
      limiter = byteLimit(limit, tooLarge);
      limiter.on('error', (error) => {
        rejected = error instanceof AppError ? error : tooLarge();
        ctx.req.unpipe(limiter);
      });
      body = ctx.req.pipe(limiter);
    } else if (hasBody) {
      body = await readWhole(ctx.req, limit, tooLarge);
      headers['content-length'] = String(body.length);
    }
    try {
      const url = new URL(ctx.originalUrl, upstream.baseUrl);
      const response = await exchange(
        dispatcher,
        {
          origin: url.origin,
          path: url.pathname + url.search,
          method: ctx.method as Dispatcher.HttpMethod,
          headers,
          body: body ?? null,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        },
        abort?.signal,
      );
      ctx.status = response.statusCode;
      for (const name in response.headers) {
        const value = response.headers[name];
        if (value !== undefined && !hopByHop.has(name) && name !== 'x-request-id') ctx.set(name, value);
      }
      ctx.body = response.body;
    } catch (error) {
      if (rejected) throw rejected;
      throw upstreamFailure(upstream, error);
    } finally {
      if (onClientGone) ctx.req.off('close', onClientGone);
      // an answer before the whole upload went through (a rejection, a replayed Idempotency-Key): what
      // is left of the body is the app's to read and drop before answering (discardUnreadBody)
      if (limiter) ctx.req.unpipe(limiter);
    }
  };
}

/** What a failed call to a service answers: its own AppError, 504 when it was too slow, else 503. */
export function upstreamFailure(upstream: Upstream, error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
    return new AppError('UPSTREAM_TIMEOUT', { cause: error });
  }
  return new AppError('SERVICE_UNAVAILABLE', {
    message: `Servicio no disponible temporalmente (${upstream.name}).`,
    headers: { 'retry-after': '5' },
    cause: error,
  });
}

/** A small body, read whole; over `limit` → the limit's error (the rest is discarded). */
export async function readWhole(req: IncomingMessage, limit: number | undefined, tooLarge: () => AppError): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let seen = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (limit !== undefined && seen > limit) {
      req.resume();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, seen);
}

function byteLimit(limit: number | undefined, tooLarge: () => AppError): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (limit !== undefined && seen > limit) callback(tooLarge());
      else callback(null, chunk);
    },
  });
}

/** Who a forwarded request is from, as the gateway saw it. */
export interface ForwardedFrom {
  requestId: string;
  /** the address the request came from (a load balancer's, behind one) */
  peer: string;
  /** as Koa reads them behind a proxy (`ctx.protocol`, `ctx.host`) */
  protocol: string;
  host: string;
  /** the verified user, if any */
  userId: string | undefined;
}

/** The headers a service gets: the client's, minus hop-by-hop ones, its credentials and any user id it claimed; the request id, X-Forwarded-*, the verified user id. */
export function forwardHeaders(incoming: IncomingHttpHeaders, from: ForwardedFrom): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || hopByHop.has(name)) continue;
    if (name === 'authorization' || name === userIdHeader || name === 'cookie' || name === 'expect') continue;
    headers[name] = value;
  }
  headers['x-request-id'] = from.requestId;
  const forwardedFor = incoming['x-forwarded-for'];
  headers['x-forwarded-for'] = forwardedFor ? `${forwardedFor}, ${from.peer}` : from.peer;
  headers['x-forwarded-proto'] = from.protocol;
  headers['x-forwarded-host'] = from.host;
  if (from.userId) headers[userIdHeader] = from.userId;
  return headers;
}

export type Exchanged = { statusCode: number; headers: Record<string, string | string[] | undefined>; body: Buffer | Readable };

/**
 * One proxied call on undici's dispatcher directly: an answer of known length up to 1 MiB is gathered
 * into one Buffer; a larger or chunked one comes back as a stream that pauses the upstream connection
 * while the client is slow. `signal` (an upload's client gone) and a client that leaves in the middle
 * of a streamed answer abort the call. (undici's `request()` gives every answer an async resource and
 * a stream — about a third of the gateway's CPU per proxied call.)
 */
export function exchange(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, signal?: AbortSignal): Promise<Exchanged> {
  return new Promise((resolve, reject) => {
    dispatcher.dispatch(options, new Exchange(resolve, reject, signal));
  });
}

/**
 * undici's handler of one `exchange`: a class, so that a call makes one object and no closures (run
 * through tsx, each function made per call is also named at run time, ~0.45 µs apiece — bench:spread).
 */
class Exchange implements Dispatcher.DispatchHandler {
  private stream: Readable | undefined;
  private chunks: Buffer[] | undefined;
  private size = 0;
  private statusCode = 0;
  private headers: Exchanged['headers'] = {};
  private resumeUpstream: (() => void) | undefined;
  private abortUpstream: ((reason: Error) => void) | undefined;
  private ended = false;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly resolve: (answer: Exchanged) => void,
    private readonly reject: (error: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    if (signal) {
      this.onAbort = () => this.abortUpstream?.(this.aborted());
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  onConnect(abort: (reason: Error) => void): void {
    this.abortUpstream = abort;
    if (this.signal?.aborted) abort(this.aborted());
  }

  onHeaders(status: number, rawHeaders: Buffer[] | string[] | null, resume: () => void): boolean {
    // 1xx interim answers (100 Continue) are not the answer
    if (status < 200) return true;
    this.statusCode = status;
    this.headers = undiciUtil.parseHeaders(rawHeaders as Buffer[]);
    const length = Number(this.headers['content-length'] ?? NaN);
    if (length <= bufferedAnswerBytes) {
      this.chunks = [];
      return true;
    }
    this.resumeUpstream = resume;
    const stream = (this.stream = new Readable({ read: () => this.resumeUpstream?.() }));
    // a client that goes away mid-answer stops the upstream call too
    stream.once('close', () => {
      if (!this.ended) this.abortUpstream?.(new Error('the client went away'));
    });
    this.resolve({ statusCode: status, headers: this.headers, body: stream });
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.stream) return this.stream.push(chunk);
    this.chunks!.push(chunk);
    this.size += chunk.length;
    return true;
  }

  onComplete(): void {
    this.end();
    if (this.stream) this.stream.push(null);
    else this.resolve({ statusCode: this.statusCode, headers: this.headers, body: this.chunks!.length === 1 ? this.chunks![0]! : Buffer.concat(this.chunks!, this.size) });
  }

  onError(error: Error): void {
    this.end();
    if (this.stream) this.stream.destroy(error);
    else this.reject(error);
  }

  private end(): void {
    this.ended = true;
    if (this.onAbort) this.signal!.removeEventListener('abort', this.onAbort);
  }

  private aborted(): Error {
    return this.signal?.reason instanceof Error ? this.signal.reason : new Error('the client went away');
  }
}

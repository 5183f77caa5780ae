import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable, Transform } from 'node:stream';
import { context, propagation } from '@opentelemetry/api';
import { Agent, errors as undiciErrors, util as undiciUtil, type Dispatcher } from 'undici';
import type { RouteSpec } from '@anb/contracts';
import { AppError, userIdHeader, type Context } from '@anb/platform';

/** Headers that describe one connection, not the message: never forwarded (RFC 9110 §7.6.1). */
const hopByHop = new Set([
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
    const headers = forwardHeaders(ctx.req.headers, ctx);
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

function forwardHeaders(incoming: IncomingHttpHeaders, ctx: Context): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || hopByHop.has(name)) continue;
    if (name === 'authorization' || name === userIdHeader || name === 'cookie' || name === 'expect') continue;
    headers[name] = value;
  }
  headers['x-request-id'] = String(ctx.state.requestId);
  const forwardedFor = incoming['x-forwarded-for'];
  const peer = ctx.req.socket.remoteAddress ?? '';
  headers['x-forwarded-for'] = forwardedFor ? `${forwardedFor}, ${peer}` : peer;
  headers['x-forwarded-proto'] = ctx.protocol;
  headers['x-forwarded-host'] = ctx.host;
  if (ctx.state.userId) headers[userIdHeader] = String(ctx.state.userId);
  return headers;
}

type Exchanged = { statusCode: number; headers: Record<string, string | string[] | undefined>; body: Buffer | Readable };

/**
 * One proxied call on undici's dispatcher directly: an answer of known length up to 1 MiB is gathered
 * into one Buffer; a larger or chunked one comes back as a stream that pauses the upstream connection
 * while the client is slow. `signal` (an upload's client gone) and a client that leaves in the middle
 * of a streamed answer abort the call. (undici's `request()` gives every answer an async resource and
 * a stream — about a third of the gateway's CPU per proxied call.)
 */
export function exchange(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, signal?: AbortSignal): Promise<Exchanged> {
  return new Promise((resolve, reject) => {
    let stream: Readable | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    let statusCode = 0;
    let headers: Exchanged['headers'] = {};
    let resumeUpstream: (() => void) | undefined;
    let abortUpstream: ((reason: Error) => void) | undefined;
    let ended = false;
    const aborted = () => (signal?.reason instanceof Error ? signal.reason : new Error('the client went away'));
    const onAbort = () => abortUpstream?.(aborted());
    signal?.addEventListener('abort', onAbort, { once: true });
    const end = () => {
      ended = true;
      signal?.removeEventListener('abort', onAbort);
    };
    const handler: Dispatcher.DispatchHandler = {
      onConnect(abort) {
        abortUpstream = abort;
        if (signal?.aborted) abort(aborted());
      },
      onHeaders(status, rawHeaders, resume) {
        // 1xx interim answers (100 Continue) are not the answer
        if (status < 200) return true;
        statusCode = status;
        headers = undiciUtil.parseHeaders(rawHeaders as Buffer[]);
        const length = Number(headers['content-length'] ?? NaN);
        if (length <= bufferedAnswerBytes) {
          chunks = [];
          return true;
        }
        resumeUpstream = resume;
        stream = new Readable({ read: () => resumeUpstream?.() });
        // a client that goes away mid-answer stops the upstream call too
        stream.once('close', () => {
          if (!ended) abortUpstream?.(new Error('the client went away'));
        });
        resolve({ statusCode, headers, body: stream });
        return true;
      },
      onData(chunk) {
        if (stream) return stream.push(chunk);
        chunks!.push(chunk);
        size += chunk.length;
        return true;
      },
      onComplete() {
        end();
        if (stream) stream.push(null);
        else resolve({ statusCode, headers, body: chunks!.length === 1 ? chunks![0]! : Buffer.concat(chunks!, size) });
      },
      onError(error) {
        end();
        if (stream) stream.destroy(error);
        else reject(error);
      },
    };
    dispatcher.dispatch(options, handler);
  });
}

// `http.request` is looked up at call time so the OpenTelemetry http instrumentation (which patches
// the module object) sees it and propagates the trace to the service
import http, { Agent, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { Transform } from 'node:stream';
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
  agent?: Agent;
}

const sharedAgent = new Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 10_000 });

/**
 * Forwards a request to the service that owns the route, streaming both ways (an upload never sits in
 * the gateway's memory). The client's Authorization and any x-anb-user-id it sent are dropped; the
 * verified user id is passed instead. An unreachable service answers 503, a slow one 504.
 */
export function proxyTo(upstream: Upstream, route: RouteSpec, options: ProxyOptions) {
  const isUpload = route.body?.contentType === 'multipart/form-data';
  // small public pages are read whole so the micro-cache can keep them
  const buffered = route.publicCacheMs !== undefined;
  const timeoutMs = isUpload ? options.uploadTimeoutMs : options.timeoutMs;
  return async (ctx: Context) => {
    const limit = route.maxBodyBytes;
    const declared = Number(ctx.get('content-length') || NaN);
    if (limit !== undefined && declared > limit) {
      throw new AppError(isUpload ? 'FILE_TOO_LARGE' : 'PAYLOAD_TOO_LARGE');
    }
    const target = new URL(ctx.originalUrl, upstream.baseUrl);
    const headers = forwardHeaders(ctx.req.headers, ctx);

    await new Promise<void>((resolve, reject) => {
      const upstreamRequest = http.request(target, { method: ctx.method, headers, agent: options.agent ?? sharedAgent });
      let settled = false;
      const fail = (error: AppError) => {
        if (settled) return;
        settled = true;
        upstreamRequest.destroy();
        reject(error);
      };
      const timer = setTimeout(() => fail(new AppError('UPSTREAM_TIMEOUT')), timeoutMs);
      upstreamRequest.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        fail(
          new AppError('SERVICE_UNAVAILABLE', {
            message: `Servicio no disponible temporalmente (${upstream.name}).`,
            headers: { 'retry-after': '5' },
            cause: error,
          }),
        );
      });
      upstreamRequest.on('response', (response) => {
        clearTimeout(timer);
        if (settled) return response.resume();
        settled = true;
        ctx.status = response.statusCode ?? 502;
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined && !hopByHop.has(name) && name !== 'x-request-id') ctx.set(name, value as string | string[]);
        }
        if (!buffered) {
          ctx.body = response;
          resolve();
          return;
        }
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          ctx.body = Buffer.concat(chunks);
          resolve();
        });
        response.on('error', () => reject(new AppError('SERVICE_UNAVAILABLE')));
      });

      if (ctx.method === 'GET' || ctx.method === 'HEAD' || (declared === 0 && !ctx.get('transfer-encoding'))) {
        upstreamRequest.end();
        return;
      }
      // piped by hand, not with pipeline(): an upstream that answers early must not destroy the
      // client's socket before our answer reaches it
      const limiter = byteLimit(limit, isUpload);
      limiter.on('error', (error) => {
        clearTimeout(timer);
        ctx.req.unpipe(limiter);
        ctx.req.resume();
        fail(error instanceof AppError ? error : new AppError('PAYLOAD_TOO_LARGE'));
      });
      upstreamRequest.on('close', () => {
        ctx.req.unpipe(limiter);
        ctx.req.resume(); // discard what the service no longer wants
      });
      ctx.req.on('aborted', () => upstreamRequest.destroy());
      ctx.req.pipe(limiter).pipe(upstreamRequest);
    });
  };
}

function byteLimit(limit: number | undefined, isUpload: boolean): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (limit !== undefined && seen > limit) callback(new AppError(isUpload ? 'FILE_TOO_LARGE' : 'PAYLOAD_TOO_LARGE'));
      else callback(null, chunk);
    },
  });
}

function forwardHeaders(incoming: IncomingHttpHeaders, ctx: Context): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || hopByHop.has(name)) continue;
    if (name === 'authorization' || name === userIdHeader || name === 'cookie') continue;
    headers[name] = value;
  }
  if (incoming['transfer-encoding']) headers['transfer-encoding'] = 'chunked';
  headers['x-request-id'] = String(ctx.state.requestId);
  headers['x-forwarded-for'] = [incoming['x-forwarded-for'], ctx.req.socket.remoteAddress].filter(Boolean).join(', ');
  headers['x-forwarded-proto'] = ctx.protocol;
  headers['x-forwarded-host'] = ctx.host;
  if (ctx.state.userId) headers[userIdHeader] = String(ctx.state.userId);
  return headers;
}

import { connect, type Socket } from 'node:net';

export interface LoadRequest {
  readonly path: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** latency percentiles, ms */
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly statuses: Record<number, number>;
  /** transport failures (no HTTP answer) */
  readonly failures: number;
  /** per answered request, in the order answered: when it was sent (ms after the run started) and its latency (ms) */
  readonly timeline: { readonly sentMs: Float64Array; readonly ms: Float64Array };
}

/**
 * A lean keep-alive load generator: `connections` sockets, each sending its next request as soon as
 * the previous answer has been read whole, until `durationMs` is over or `next` returns undefined.
 * Latency is measured per request, from the write to the end of the body.
 *
 * It speaks just enough HTTP/1.1 over plain sockets (`HttpConnection`): requests are written as one
 * string, answers are framed by Content-Length, chunked encoding or the connection's end. It costs a
 * fraction of node:http's client per request (bench:votes prints the load generator's CPU), which
 * matters because it runs on the same two cores as what it measures: with node:http the generator
 * itself saturated a core at ~12,000 req/s and so capped the bare Koa reference at that, less than
 * half of what Koa serves here (autocannon measures ~30,000 req/s on the same hello-world).
 */
export async function runLoad(options: {
  baseUrl: string;
  connections: number;
  durationMs?: number;
  next: (i: number) => LoadRequest | undefined;
}): Promise<LoadResult> {
  const base = new URL(options.baseUrl);
  if (base.protocol !== 'http:') throw new Error(`runLoad speaks plain http only, not ${base.protocol}`);
  const target = { host: base.hostname, port: Number(base.port || 80), hostHeader: base.host };
  const latencies: number[] = [];
  const sentAt: number[] = [];
  const statuses: Record<number, number> = {};
  let failures = 0;
  let issued = 0;
  const started = performance.now();
  const deadline = options.durationMs === undefined ? Infinity : started + options.durationMs;
  await Promise.all(
    Array.from({ length: options.connections }, async () => {
      let connection: HttpConnection | undefined;
      try {
        while (performance.now() < deadline) {
          const req = options.next(issued++);
          if (!req) return;
          const t0 = performance.now();
          try {
            connection ??= await HttpConnection.open(target.host, target.port);
            const answer = await connection.exchange(requestText(req, target.hostHeader));
            latencies.push(performance.now() - t0);
            sentAt.push(t0 - started);
            statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
            if (!answer.keepAlive) {
              connection.close();
              connection = undefined;
            }
          } catch {
            failures++;
            connection?.close();
            connection = undefined;
          }
        }
      } finally {
        connection?.close();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const timeline = { sentMs: Float64Array.from(sentAt), ms: Float64Array.from(latencies) };
  latencies.sort((a, b) => a - b);
  const at = (q: number) => quantileOf(latencies, q);
  const requests = latencies.length + failures;
  return {
    requests,
    seconds,
    perSecond: requests / seconds,
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: latencies.at(-1) ?? 0,
    statuses,
    failures,
    timeline,
  };
}

/** The q-quantile of values sorted ascending (the value at that rank); 0 for none. */
export function quantileOf(sorted: readonly number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const bodyless = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS']);

/** the request as it goes on the wire (no body: a POST says so with Content-Length: 0, as node:http does, unless the caller set it) */
export function requestText(req: LoadRequest, hostHeader: string): string {
  const method = req.method ?? 'GET';
  let text = `${method} ${req.path} HTTP/1.1\r\nhost: ${hostHeader}\r\n`;
  let length = false;
  for (const name in req.headers) {
    text += `${name}: ${req.headers[name]}\r\n`;
    if (name.toLowerCase() === 'content-length') length = true;
  }
  if (!bodyless.has(method) && !length) text += 'content-length: 0\r\n';
  return `${text}\r\n`;
}

export interface Answer {
  readonly status: number;
  /** false when the server said Connection: close or ended the body by closing */
  readonly keepAlive: boolean;
}

const headEnd = Buffer.from('\r\n\r\n');
const crlf = Buffer.from('\r\n');

/**
 * One keep-alive HTTP/1.1 connection, one exchange at a time. An answer is complete when its body is:
 * by Content-Length, by the last chunk of a chunked body (trailers included), or — neither given —
 * when the server closes the connection. 1xx interim answers are skipped; 204 and 304 have no body.
 */
export class HttpConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (answer: Answer) => void; reject: (error: Error) => void } | undefined;
  private ended = false;
  private failure: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.settle();
    });
    socket.on('end', () => {
      this.ended = true;
      this.settle();
    });
    socket.on('error', (error) => {
      this.failure = error;
      this.settle();
    });
    socket.on('close', () => {
      this.ended = true;
      this.settle();
    });
  }

  static open(host: string, port: number): Promise<HttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new HttpConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  exchange(request: string): Promise<Answer> {
    if (this.waiting) throw new Error('one exchange at a time');
    if (this.ended || this.failure) return Promise.reject(this.failure ?? new Error('the connection is closed'));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(request);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private settle(): void {
    const waiting = this.waiting;
    if (!waiting) return;
    let parsed: { answer: Answer; length: number } | 'incomplete';
    try {
      parsed = parseAnswer(this.buffered, this.ended);
    } catch (error) {
      this.waiting = undefined;
      waiting.reject(error as Error);
      return;
    }
    if (parsed === 'incomplete') {
      if (this.failure || this.ended) {
        this.waiting = undefined;
        waiting.reject(this.failure ?? new Error('the server closed the connection before answering'));
      }
      return;
    }
    this.buffered = this.buffered.subarray(parsed.length);
    this.waiting = undefined;
    waiting.resolve(parsed.answer);
  }
}

/**
 * The first complete answer in `data` and how many bytes it took, or 'incomplete'. `ended`: the server
 * has closed its side (ends a body framed by the close). Throws on bytes that are not an HTTP answer.
 */
export function parseAnswer(data: Buffer, ended: boolean): { answer: Answer; length: number } | 'incomplete' {
  let offset = 0;
  for (;;) {
    const end = data.indexOf(headEnd, offset);
    if (end < 0) return 'incomplete';
    const head = data.toString('latin1', offset, end);
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    if (!match) throw new Error(`not an HTTP answer: ${JSON.stringify(head.slice(0, 40))}`);
    const status = Number(match[1]);
    const bodyStart = end + headEnd.length;
    // interim answers (100 Continue…) come before the real one
    if (status >= 100 && status < 200) {
      offset = bodyStart;
      continue;
    }
    const close = /\r\nconnection:[ \t]*close/i.test(head) || head.startsWith('HTTP/1.0');
    if (status === 204 || status === 304) return { answer: { status, keepAlive: !close }, length: bodyStart };
    if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) {
      const length = chunkedEnd(data, bodyStart);
      return length < 0 ? 'incomplete' : { answer: { status, keepAlive: !close }, length };
    }
    const declared = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
    if (declared) {
      const length = bodyStart + Number(declared[1]);
      return data.length < length ? 'incomplete' : { answer: { status, keepAlive: !close }, length };
    }
    // neither: the body runs until the server closes the connection
    return ended ? { answer: { status, keepAlive: false }, length: data.length } : 'incomplete';
  }
}

/** where a chunked body that starts at `from` ends (after its last chunk and trailers), or -1 if not yet */
function chunkedEnd(data: Buffer, from: number): number {
  let at = from;
  for (;;) {
    const lineEnd = data.indexOf(crlf, at);
    if (lineEnd < 0) return -1;
    const size = Number.parseInt(data.toString('latin1', at, lineEnd).split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size)) throw new Error('a chunk size that is not a hex number');
    if (size === 0) {
      // trailers (usually none), then an empty line
      let line = lineEnd + crlf.length;
      for (;;) {
        const next = data.indexOf(crlf, line);
        if (next < 0) return -1;
        if (next === line) return next + crlf.length;
        line = next + crlf.length;
      }
    }
    const chunkEnd = lineEnd + crlf.length + size;
    if (data.length < chunkEnd + crlf.length) return -1;
    at = chunkEnd + crlf.length;
  }
}

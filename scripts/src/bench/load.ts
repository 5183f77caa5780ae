import { Agent, request } from 'node:http';

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
 * A small keep-alive load generator (node:http, one Agent with `connections` sockets): `connections`
 * loops each send their next request as soon as the previous answer is read, until `durationMs` is
 * over or `next` returns undefined. Latency is measured per request, from send to the end of the body.
 */
export async function runLoad(options: {
  baseUrl: string;
  connections: number;
  durationMs?: number;
  next: (i: number) => LoadRequest | undefined;
}): Promise<LoadResult> {
  const base = new URL(options.baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections, maxFreeSockets: options.connections });
  const latencies: number[] = [];
  const sentAt: number[] = [];
  const statuses: Record<number, number> = {};
  let failures = 0;
  let issued = 0;
  const started = performance.now();
  const deadline = options.durationMs === undefined ? Infinity : started + options.durationMs;
  const send = (req: LoadRequest) =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const r = request(
        { host: base.hostname, port: base.port, path: req.path, method: req.method ?? 'GET', headers: req.headers ?? {}, agent },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => {
            latencies.push(performance.now() - t0);
            sentAt.push(t0 - started);
            statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
            resolve();
          });
        },
      );
      r.on('error', () => {
        failures++;
        resolve();
      });
      r.end();
    });
  await Promise.all(
    Array.from({ length: options.connections }, async () => {
      while (performance.now() < deadline) {
        const req = options.next(issued++);
        if (!req) return;
        await send(req);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  const timeline = { sentMs: Float64Array.from(sentAt), ms: Float64Array.from(latencies) };
  latencies.sort((a, b) => a - b);
  const at = (q: number) => (latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!);
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

/**
 * `npm run bench:gateway` — what the gateway's hop costs, with nothing else in the way: a bare Koa
 * hello-world stands in for every service (and serves a JWKS), the real gateway process sits in front
 * of it. Measured at 50 connections: the hello-world alone (ceiling), then through the gateway an
 * anonymous GET (micro-cache off, so every request is proxied), a GET with a token (the signed-in
 * showcase: forwarded with the verified user id) and an authenticated POST vote (token verified,
 * cached after the first use; forwarded in batches as shipped, the hello-world answering the batch
 * endpoint with an outcome per call). Prints req/s, latency and the gateway's CPU per request
 * (from /proc), which is the figure to drive down. Nothing about time is asserted. DIRECT_CALLS=false
 * sends everything through Koa, for comparison.
 *
 *   BENCH_SECONDS=6 BENCH_CONNECTIONS=50 BENCH_TELEMETRY=1 BENCH_PROFILE=1 npm run bench:gateway
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '@anb/platform/local';
import { exportJWK } from 'jose';
import { repoRoot } from '../stack/stack';
import { cpuSecondsOf } from './cpu';
import { runLoad, type LoadResult, type LoadRequest } from './load';
import { keyId, mintAccessTokens, startHello } from './support';

const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const seconds = Number(process.env.BENCH_SECONDS ?? 6);
const telemetry = process.env.BENCH_TELEMETRY === '1';
const profile = process.env.BENCH_PROFILE === '1';
const log = (line: string) => process.stderr.write(`${line}\n`);
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function measure(name: string, baseUrl: string, pid: number, next: (i: number) => LoadRequest) {
  await runLoad({ baseUrl, connections, durationMs: 1000, next }); // warm-up
  const before = cpuSecondsOf(pid);
  const result = await runLoad({ baseUrl, connections, durationMs: seconds * 1000, next });
  const cpuPerRequest = ((cpuSecondsOf(pid) - before) / result.requests) * 1e6;
  return { name, result, cpuPerRequest };
}

// RSA-2048, as auth generates (RS256)
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const { kty, n, e } = await exportJWK(publicKey);
const jwk = { kty, n, e, alg: 'RS256', use: 'sig', kid: await keyId(publicKey) };
const tokens = await mintAccessTokens(privateKey, 400);

log(`bench:gateway — ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${connections} connections`);
const hello = await startHello({ HELLO_JWKS: JSON.stringify({ keys: [jwk] }) });
const port = await freePort();
const gateway = spawn(
  process.execPath,
  [
    ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${join(repoRoot, '.data', 'profiles')}`] : []),
    '--import', 'tsx', '--import', '@anb/observability/register',
    join(repoRoot, 'services', 'gateway', 'src', 'main.ts'),
  ],
  {
    cwd: repoRoot,
    env: {
      ...process.env,
      PORT: String(port),
      AUTH_URL: hello.url,
      CATALOG_URL: hello.url,
      VOTING_URL: hello.url,
      PUBLIC_CACHE: 'false',
      LOG_LEVEL: 'warn',
      ...(telemetry ? {} : { OTEL_SDK_DISABLED: 'true' }),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  },
);
const gatewayUrl = `http://127.0.0.1:${port}`;
try {
  await waitFor(async () => (await fetch(`${gatewayUrl}/api/public/rankings`)).ok, { timeoutMs: 30_000, intervalMs: 100, message: 'gateway did not start' });
  const videoId = randomUUID();
  const rows = [
    await measure('bare Koa hello-world (ceiling)', hello.url, hello.child.pid!, () => ({ path: '/' })),
    await measure('GET /api/public/rankings (proxied)', gatewayUrl, gateway.pid!, () => ({ path: '/api/public/rankings' })),
    await measure('GET /api/public/videos (token, proxied)', gatewayUrl, gateway.pid!, (i) => ({
      path: '/api/public/videos',
      headers: { authorization: `Bearer ${tokens[i % tokens.length]}` },
    })),
    await measure('POST …/vote (token + batched)', gatewayUrl, gateway.pid!, (i) => ({
      path: `/api/public/videos/${videoId}/vote`,
      method: 'POST',
      headers: { authorization: `Bearer ${tokens[i % tokens.length]}` },
    })),
  ];
  const ceiling = rows[0]!.result.perSecond;
  const line = ({ name, result, cpuPerRequest }: { name: string; result: LoadResult; cpuPerRequest: number }) =>
    `${name.padEnd(40)} ${fmt(result.perSecond).padStart(7)} req/s (${fmt((100 * result.perSecond) / ceiling, 1).padStart(5)} %)  p50 ${fmt(result.p50, 2).padStart(6)}  p99 ${fmt(result.p99, 2).padStart(6)} ms  ${fmt(cpuPerRequest).padStart(4)} µs CPU/req  ${JSON.stringify(result.statuses)}`;
  process.stdout.write(`\nbench:gateway — ${new Date().toISOString()} — telemetry ${telemetry ? 'on' : 'off'}, load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n${rows.map(line).join('\n')}\n(CPU/req: of the process serving the row — the hello-world for the first, the gateway for the others)\n`);
} finally {
  gateway.kill('SIGTERM');
  hello.child.kill('SIGTERM');
  await new Promise((resolve) => gateway.once('exit', resolve));
}

import assert from 'node:assert/strict';
import { createServer, get, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '@anb/observability';
import { AppError, startHttpServer, type RunningServer } from '@anb/platform';
import { waitFor } from '@anb/platform/local';
import { createGatewayApp, type GatewayDeps } from './app';
import { bearerToken, type TokenVerifier } from './authenticate';

/** The gateway against fake services: routing, identity, streaming, limits, and what happens when a service is down. */
let upstream: Server;
let upstreamUrl: string;
let gateway: RunningServer;
const seen: { method: string; url: string; headers: IncomingHttpHeaders; bytes: number }[] = [];
const userId = '0b8f1c0e-7a2d-4f7e-9a51-2f3c4d5e6f70';

const verifier: TokenVerifier = {
  async verify(token) {
    if (token === 'aaa.bbb.ccc') return userId;
    throw new AppError('UNAUTHORIZED');
  },
};

/**
 * `verifier` that also remembers 'aaa.bbb.ccc' as verified, so plain calls are taken in front of Koa,
 * and counts the calls of `verified`: only the handlers in front of Koa ask it (authenticate calls `verify`).
 */
function remembering(): TokenVerifier & { lookups: number } {
  const counted = {
    lookups: 0,
    verify: (token: string) => verifier.verify(token),
    verified(token: string) {
      counted.lookups++;
      return token === 'aaa.bbb.ccc' ? userId : undefined;
    },
  };
  return counted;
}

/** A gateway in front of fake services at `baseUrl` (voting at `votingUrl` when given); `overrides` replace the defaults. */
function startGateway(baseUrl: string, overrides: Partial<GatewayDeps> & { votingUrl?: string } = {}): Promise<RunningServer> {
  const { votingUrl, ...deps } = overrides;
  const app = createGatewayApp({
    version: 'test',
    logger: createLogger({ service: 'gateway', level: 'silent' }),
    verifier,
    upstreams: {
      auth: { name: 'auth', baseUrl },
      'video-catalog': { name: 'video-catalog', baseUrl },
      voting: { name: 'voting', baseUrl: votingUrl ?? baseUrl },
    },
    proxy: { timeoutMs: 5000, uploadTimeoutMs: 5000 },
    authRatePerMinute: 0,
    ...deps,
  });
  return startHttpServer(app, { port: 0, host: '127.0.0.1' });
}

before(async () => {
  upstream = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, bytes });
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-total-count', '7');
      res.end(JSON.stringify({ ok: true, bytes }));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gateway = await startGateway(upstreamUrl, { votingUrl: 'http://127.0.0.1:9' /* nothing listens there */, authRatePerMinute: 6 });
});
after(async () => {
  await gateway?.close();
  await new Promise((r) => upstream?.close(r));
});

const call = (path: string, init: RequestInit = {}) => fetch(`${gateway.url}${path}`, init);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (res: Response) => (await res.json()) as any;

describe('gateway', () => {
  test('forwards with the verified user id, never the client’s id or token', async () => {
    const res = await call('/api/videos?x=1', { headers: { authorization: 'Bearer aaa.bbb.ccc', 'x-anb-user-id': 'forged', 'x-request-id': 'req-1' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-total-count'), '7');
    assert.equal(res.headers.get('x-request-id'), 'req-1');
    const last = seen.at(-1)!;
    assert.equal(last.url, '/api/videos?x=1');
    assert.equal(last.headers['x-anb-user-id'], userId);
    assert.equal(last.headers.authorization, undefined);
    assert.equal(last.headers['x-request-id'], 'req-1');
  });

  test('unknown routes answer 404 without reaching a service', async () => {
    const before = seen.length;
    const res = await call('/api/auth/jwks-does-not-matter');
    assert.equal(res.status, 404);
    assert.equal(seen.length, before, 'unknown routes never reach a service');
  });

  test('required auth: 401 without a token, with a bad one, or a malformed header', async () => {
    assert.equal((await call('/api/videos')).status, 401);
    assert.equal((await call('/api/videos', { headers: { authorization: 'Bearer xxx.yyy.zzz' } })).status, 401);
    const malformed = await call('/api/videos', { headers: { authorization: 'Token abc' } });
    assert.equal(malformed.status, 401);
    assert.equal((await json(malformed)).code, 'UNAUTHORIZED');
  });

  test('streams a request body through and counts it', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const res = await call('/api/videos/upload', {
      method: 'POST',
      headers: { authorization: 'Bearer aaa.bbb.ccc', 'content-type': 'multipart/form-data; boundary=x' },
      body: big,
    });
    assert.equal(res.status, 200);
    assert.equal((await json(res)).bytes, big.length);
  });

  test('an answer ready before the body is sent (no token) follows the whole body, on a connection that stays usable', async () => {
    const { Agent, request } = await import('node:http');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (path: string, chunks: Buffer[], declared: number, token?: string) =>
      new Promise<{ status: number; connection: string | undefined; code: string; sentAll: boolean }>((resolve, reject) => {
        let sent = 0;
        const req = request(`${gateway.url}${path}`, {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'multipart/form-data; boundary=x',
            'content-length': String(declared),
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
        });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, code: JSON.parse(body).code, sentAll: sent === declared }));
        });
        req.on('error', reject);
        const next = () => {
          const chunk = chunks.shift();
          if (!chunk) return void req.end();
          sent += chunk.length;
          req.write(chunk, () => setTimeout(next, 5));
        };
        next();
      });
    const chunks = Array.from({ length: 8 }, () => Buffer.alloc(256 * 1024, 1));
    const unauthenticated = await send('/api/videos/upload', chunks, 8 * 256 * 1024);
    assert.equal(unauthenticated.status, 401);
    assert.equal(unauthenticated.code, 'UNAUTHORIZED');
    assert.ok(unauthenticated.sentAll, 'the answer came after the whole body');
    assert.equal(unauthenticated.connection, 'keep-alive');
    const next = await send('/api/videos/upload', [Buffer.alloc(1000, 2)], 1000, 'aaa.bbb.ccc');
    assert.equal(next.status, 200, 'the same connection serves the next request');
    agent.destroy();
  });

  test('an answer ready before a body too large to read goes out at once and closes the connection', async () => {
    const { request } = await import('node:http');
    const answer = await new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      const req = request(`${gateway.url}/api/videos/upload`, {
        method: 'POST',
        headers: { 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(500 * 1024 * 1024) },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection }));
      });
      req.on('error', reject);
      req.write(Buffer.alloc(64 * 1024, 1)); // 64 KiB of the declared 500 MiB, then nothing more
    });
    assert.equal(answer.status, 401);
    assert.equal(answer.connection, 'close');
  });

  test('a declared body over the route limit is 413 before reaching the service', async () => {
    const before = seen.length;
    const res = await call('/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(70 * 1024) });
    assert.equal(res.status, 413);
    assert.equal((await json(res)).code, 'PAYLOAD_TOO_LARGE');
    assert.equal(seen.length, before);
  });

  test('a service that is down answers 503 JSON', async () => {
    const res = await call('/api/public/rankings');
    assert.equal(res.status, 503);
    const body = await json(res);
    assert.equal(body.code, 'SERVICE_UNAVAILABLE');
    assert.match(body.message, /voting/);
  });

  test('signup/login are rate-limited per client with Retry-After', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await call('/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      statuses.push(res.status);
      if (res.status === 429) assert.ok(Number(res.headers.get('retry-after')) >= 1);
    }
    assert.ok(statuses.includes(429), statuses.join(','));
    assert.equal(statuses[0], 200);
  });

  test('health reports every service and is 503 when one is down', async () => {
    const res = await call('/api/health');
    assert.equal(res.status, 503);
    const body = await json(res);
    assert.equal(body.checks.auth.status, 'ok');
    assert.equal(body.checks.voting.status, 'failing');
  });
});

test('bearerToken accepts only a well-formed Bearer JWT', () => {
  assert.equal(bearerToken(undefined), undefined);
  assert.equal(bearerToken('Bearer a.b.c'), 'a.b.c');
  assert.equal(bearerToken('bearer   a-_.b.c'), 'a-_.b.c');
  for (const bad of ['Bearer', 'Bearer a.b', 'Basic a.b.c', 'a.b.c', 'Bearer a.b.c.d']) assert.throws(() => bearerToken(bad), AppError, bad);
});

describe('public micro-cache', () => {
  let cached: RunningServer;
  before(async () => {
    cached = await startGateway(upstreamUrl);
  });
  after(async () => {
    await cached?.close();
  });

  test('anonymous reads of a public page share one service call; users always reach the service', async () => {
    const url = `${cached.url}/api/public/videos?page=1&n=${Math.random()}`;
    const before = seen.length;
    const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(url)));
    assert.ok(answers.every((r) => r.status === 200));
    assert.equal(seen.length - before, 1, 'one upstream call for 20 concurrent anonymous reads');
    assert.equal(answers[0]!.headers.get('x-total-count'), '7');
    const bodies = await Promise.all(answers.map((r) => r.text()));
    assert.ok(bodies.every((b) => b === bodies[0]));

    const withUser = await fetch(url, { headers: { authorization: 'Bearer aaa.bbb.ccc' } });
    assert.equal(withUser.status, 200);
    assert.equal(seen.length - before, 2, 'a signed-in read is not served from the cache');
    assert.equal(seen.at(-1)!.headers['x-anb-user-id'], userId);
  });
});

test('verified tokens are remembered until they expire, and not longer than the cache allows', async () => {
  const { VerifiedTokens } = await import('./authenticate');
  const cache = new VerifiedTokens(2, 1000);
  const now = 1_000_000;
  cache.set('t1', 'u1', now / 1000 + 60, now);
  assert.equal(cache.get('t1', now + 10), 'u1');
  assert.equal(cache.get('t1', now + 1500), undefined, 'beyond the cache age');
  cache.set('t2', 'u2', now / 1000 + 1, now);
  assert.equal(cache.get('t2', now + 999), 'u2');
  assert.equal(cache.get('t2', now + 1000), undefined, 'the token expired');
  cache.set('a', 'x', now / 1000 + 60, now);
  cache.set('b', 'y', now / 1000 + 60, now);
  cache.set('c', 'z', now / 1000 + 60, now);
  assert.equal(cache.get('a', now), undefined, 'the oldest entry makes room');
  assert.equal(cache.get('c', now), 'z');
});

describe('proxy: bodies, answers and timeouts', () => {
  let echo: Server;
  let gw: RunningServer;
  /** answers the echo server could not finish because the other side went away */
  let cutShort = 0;
  /** request bodies that ended before they were whole */
  let bodiesCut = 0;
  before(async () => {
    // answers by query: ?slow=ms waits, ?big=bytes sends that many bytes, ?chunked sends without a length,
    // ?endless sends until the reader goes away
    echo = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.once('close', () => {
        if (!req.complete) bodiesCut++;
      });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url!, 'http://x');
        const reply = () => {
          res.setHeader('content-type', 'application/json');
          if (url.searchParams.has('big')) {
            res.end(Buffer.alloc(Number(url.searchParams.get('big')), 'a'));
          } else if (url.searchParams.has('endless')) {
            // 64 KiB at a time, as fast as the reader takes them, until the other side goes away
            const chunk = Buffer.alloc(64 * 1024, 'b');
            res.once('close', () => cutShort++);
            const pump = () => {
              while (!res.destroyed && res.write(chunk));
              if (!res.destroyed) res.once('drain', pump);
            };
            pump();
          } else if (url.searchParams.has('chunked')) {
            res.write('{"part":');
            setTimeout(() => res.end('1}'), 10);
          } else {
            res.end(JSON.stringify({ method: req.method, body: Buffer.concat(chunks).toString(), length: req.headers['content-length'] ?? null }));
          }
        };
        const slow = Number(url.searchParams.get('slow') ?? 0);
        if (slow) setTimeout(reply, slow);
        else reply();
      });
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    const echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
    gw = await startGateway(echoUrl, { proxy: { timeoutMs: 300, uploadTimeoutMs: 5000 }, publicCache: false });
  });
  after(async () => {
    await gw?.close();
    echo.closeAllConnections();
    await new Promise((r) => echo?.close(r));
  });

  test('a JSON body reaches the service intact, with its length', async () => {
    const payload = JSON.stringify({ email: 'ana@example.com', password: 'ñandú-🏀' });
    const res = await fetch(`${gw.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
    assert.equal(res.status, 200);
    const seenBody = await json(res);
    assert.equal(seenBody.body, payload);
    assert.equal(seenBody.length, String(Buffer.byteLength(payload)));
  });

  test('a body sent without a length is still cut off at the route limit', async () => {
    const chunks = [Buffer.alloc(40 * 1024, 'x'), Buffer.alloc(40 * 1024, 'x')];
    const body = new ReadableStream({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const res = await fetch(`${gw.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
    assert.equal(res.status, 413);
    assert.equal((await json(res)).code, 'PAYLOAD_TOO_LARGE');
  });

  test('large and unsized answers pass through whole', async () => {
    const big = await fetch(`${gw.url}/api/public/rankings?big=${3 * 1024 * 1024}`);
    assert.equal(big.status, 200);
    assert.equal((await big.arrayBuffer()).byteLength, 3 * 1024 * 1024);
    const chunked = await fetch(`${gw.url}/api/public/rankings?chunked=1`);
    assert.deepEqual(await json(chunked), { part: 1 });
  });

  test('a client that leaves in the middle of a large answer stops the call to the service', async () => {
    const controller = new AbortController();
    const res = await fetch(`${gw.url}/api/public/rankings?endless=1`, { signal: controller.signal });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await waitFor(() => cutShort === 1, { timeoutMs: 5000, message: 'the service sees its answer cut short' });
    const next = await fetch(`${gw.url}/api/public/rankings?slow=1`);
    assert.equal(next.status, 200, 'the gateway goes on serving');
  });

  test('an upload whose client goes away half-way stops the call to the service', async () => {
    const { request } = await import('node:http');
    const { hostname, port } = new URL(gw.url);
    const client = request({
      host: hostname,
      port,
      method: 'POST',
      path: '/api/videos/upload',
      headers: { authorization: 'Bearer aaa.bbb.ccc', 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(64 * 1024 * 1024) },
    });
    client.on('error', () => {});
    client.write(Buffer.alloc(256 * 1024, 1));
    await new Promise((r) => setTimeout(r, 200));
    client.destroy();
    await waitFor(() => bodiesCut === 1, { timeoutMs: 5000, message: 'the service sees the upload cut short' });
    const next = await fetch(`${gw.url}/api/public/rankings?slow=1`);
    assert.equal(next.status, 200, 'the gateway goes on serving');
  });

  test('a service slower than the timeout answers 504 JSON', async () => {
    const res = await fetch(`${gw.url}/api/public/rankings?slow=1500`);
    assert.equal(res.status, 504);
    assert.equal((await json(res)).code, 'UPSTREAM_TIMEOUT');
    const fast = await fetch(`${gw.url}/api/public/rankings?slow=10`);
    assert.equal(fast.status, 200, 'the next call is unaffected');
  });
});

describe('the public micro-cache', () => {
  let service: Server;
  let gw: RunningServer;
  const calls: { url: string; authorization?: string; ifNoneMatch?: string }[] = [];
  /** while set, the service holds its answers to ?page=held until this promise settles */
  let gate: Promise<void> | undefined;
  before(async () => {
    service = createServer((req, res) => {
      calls.push({ url: req.url!, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), ...(req.headers['if-none-match'] ? { ifNoneMatch: String(req.headers['if-none-match']) } : {}) });
      const url = new URL(req.url!, 'http://x');
      if (url.searchParams.get('page') === 'bad') {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'VALIDATION_ERROR' }));
        return;
      }
      const held = url.searchParams.get('page') === 'held' ? gate : undefined;
      // slow enough that concurrent first requests overlap
      void Promise.resolve(held).then(() => setTimeout(() => {
        const body = JSON.stringify({ url: req.url, n: calls.length });
        // a known length, as Koa sends it (a chunked answer is streamed, not kept)
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), etag: 'W/"v1"', 'x-total-count': '3', 'cache-control': 'public, max-age=0', 'x-service-only': 'dropped' });
        res.end(body);
      }, 30));
    });
    await new Promise<void>((r) => service.listen(0, '127.0.0.1', () => r()));
    gw = await startGateway(`http://127.0.0.1:${(service.address() as AddressInfo).port}`);
  });
  after(async () => {
    await gw?.close();
    await new Promise((r) => service?.close(r));
  });
  const callsTo = (url: string) => calls.filter((c) => c.url === url).length;

  test('an anonymous GET is answered from memory the second time, same body and headers, its own request id', async () => {
    const first = await fetch(`${gw.url}/api/public/rankings?page=1`, { headers: { 'x-request-id': 'one' } });
    const second = await fetch(`${gw.url}/api/public/rankings?page=1`, { headers: { 'x-request-id': 'two' } });
    assert.equal(callsTo('/api/public/rankings?page=1'), 1);
    assert.deepEqual([first.headers.get('x-cache'), second.headers.get('x-cache')], ['miss', 'hit']);
    assert.deepEqual([first.headers.get('x-request-id'), second.headers.get('x-request-id')], ['one', 'two']);
    for (const name of ['etag', 'x-total-count', 'cache-control', 'content-type']) assert.equal(second.headers.get(name), first.headers.get(name), name);
    assert.equal(second.headers.get('x-service-only'), null, 'only the page headers are kept');
    assert.deepEqual(await second.json(), await first.json());
  });

  test('a request with a token always reaches the service and is not served to others', async () => {
    const url = '/api/public/videos?page=1';
    const anonymous = await fetch(`${gw.url}${url}`);
    assert.equal(anonymous.headers.get('x-cache'), 'miss');
    const signedIn = await fetch(`${gw.url}${url}`, { headers: { authorization: 'Bearer aaa.bbb.ccc' } });
    assert.equal(signedIn.status, 200);
    assert.equal(signedIn.headers.get('x-cache'), null);
    assert.equal(callsTo(url), 2);
    assert.equal(calls.filter((c) => c.url === url).at(-1)!.authorization, undefined, 'the token itself is never forwarded');
    assert.equal((await fetch(`${gw.url}${url}`)).headers.get('x-cache'), 'hit');
    assert.equal(callsTo(url), 2);
  });

  test('If-None-Match with the cached ETag is 304 from memory; the service is asked without it', async () => {
    const url = '/api/public/rankings?page=2';
    const first = await fetch(`${gw.url}${url}`, { headers: { 'if-none-match': 'W/"v1"' } });
    assert.equal(first.status, 304);
    assert.equal(calls.filter((c) => c.url === url)[0]!.ifNoneMatch, undefined, 'the full page is fetched to be cached');
    const again = await fetch(`${gw.url}${url}`, { headers: { 'if-none-match': 'W/"v1"' } });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get('etag'), 'W/"v1"');
    const other = await fetch(`${gw.url}${url}`, { headers: { 'if-none-match': 'W/"old"' } });
    assert.equal(other.status, 200);
    assert.equal(callsTo(url), 1);
  });

  test('twenty concurrent first requests for a page make one call; errors are not kept; an entry lives 250 ms', async () => {
    const url = '/api/public/rankings?page=3';
    const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${gw.url}${url}`).then(async (r) => ({ status: r.status, body: await r.text() }))));
    assert.ok(answers.every((a) => a.status === 200 && a.body === answers[0]!.body));
    assert.equal(callsTo(url), 1);
    for (let i = 0; i < 2; i++) assert.equal((await fetch(`${gw.url}/api/public/rankings?page=bad`)).status, 400);
    assert.equal(callsTo('/api/public/rankings?page=bad'), 2);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await fetch(`${gw.url}${url}`)).headers.get('x-cache'), 'miss');
    assert.equal(callsTo(url), 2);
  });

  test('while an expired page is asked for again, others get the previous one at once, for up to another 250 ms', async () => {
    const url = '/api/public/rankings?page=held';
    const get = async () => {
      const r = await fetch(`${gw.url}${url}`);
      return { cache: r.headers.get('x-cache'), n: ((await r.json()) as { n: number }).n };
    };
    const held = () => {
      let release!: () => void;
      gate = new Promise<void>((r) => (release = r));
      return release;
    };
    const reached = (count: number) => waitFor(async () => callsTo(url) === count, { timeoutMs: 5000, intervalMs: 5, message: `call ${count} reaches the service` });
    const first = await get();
    assert.equal(first.cache, 'miss');

    // expired (250 ms), not yet twice as old: one request refreshes, the others are answered meanwhile
    await new Promise((r) => setTimeout(r, 270));
    let release = held();
    const refresher = get();
    await reached(2);
    const meanwhile = await Promise.all([get(), get()]);
    assert.deepEqual(meanwhile, [{ cache: 'stale', n: first.n }, { cache: 'stale', n: first.n }]);
    assert.equal(callsTo(url), 2, 'one call refreshes the page');
    release();
    const refreshed = await refresher;
    assert.equal(refreshed.cache, 'miss');
    assert.notEqual(refreshed.n, first.n);
    assert.deepEqual(await get(), { cache: 'hit', n: refreshed.n });

    // twice as old: the next requests wait for the service, as on a first request
    await new Promise((r) => setTimeout(r, 550));
    release = held();
    const again = get();
    await reached(3);
    const waiting = get();
    const early = await Promise.race([waiting.then(() => 'answered'), new Promise((r) => setTimeout(() => r('waiting'), 100))]);
    assert.equal(early, 'waiting', 'an entry older than twice its time is not answered');
    release();
    const [renewed, shared] = await Promise.all([again, waiting]);
    assert.equal(renewed.cache, 'miss');
    assert.deepEqual(shared, { cache: 'hit', n: renewed.n });
    assert.equal(callsTo(url), 3);
    gate = undefined;
  });

  test('a page memory can serve is answered in front of Koa exactly as Koa answers it (a hit, a 304)', async () => {
    const viaKoa = await startGateway(`http://127.0.0.1:${(service.address() as AddressInfo).port}`, { directCalls: false });
    try {
      /** status, raw header names and values (without date and keep-alive), body */
      const answerOf = (base: string, headers: Record<string, string>) =>
        new Promise<{ status: number; headers: Record<string, string>; names: string[]; body: string }>((resolve, reject) => {
          get(`${base}/api/public/rankings?page=same`, { headers }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c));
            res.on('end', () => {
              const names = res.rawHeaders.filter((_, i) => i % 2 === 0).filter((n) => !['date', 'connection', 'keep-alive'].includes(n.toLowerCase()));
              const values = Object.fromEntries(names.map((n) => [n.toLowerCase(), String(res.headers[n.toLowerCase()])]));
              resolve({ status: res.statusCode!, headers: values, names, body });
            });
          }).on('error', reject);
        });
      // the first request of each fills its cache (through Koa, both)
      await answerOf(gw.url, {});
      await answerOf(viaKoa.url, {});
      const asked: Record<string, string>[] = [{ 'x-request-id': 'page-1' }, { 'x-request-id': 'page-2', 'if-none-match': 'W/"v1"' }];
      for (const headers of asked) {
        const direct = await answerOf(gw.url, headers);
        const koa = await answerOf(viaKoa.url, headers);
        assert.deepEqual({ ...direct, names: undefined, body: direct.status === 200 ? JSON.parse(direct.body).url : direct.body }, { ...koa, names: undefined, body: koa.status === 200 ? JSON.parse(koa.body).url : koa.body });
        assert.equal(direct.headers['x-cache'], 'hit');
        // (written by the handler in front of Koa: Koa spells its own header Content-Length)
        if (direct.status === 200) assert.deepEqual([direct.names.includes('content-length'), koa.names.includes('Content-Length')], [true, true]);
      }
      assert.equal(callsTo('/api/public/rankings?page=same'), 2);
    } finally {
      await viaKoa.close();
    }
  });

  test('other methods and routes without a cache time always reach the service', async () => {
    for (let i = 0; i < 2; i++) await fetch(`${gw.url}/api/public/rankings?page=4`, { method: 'HEAD' });
    assert.equal(callsTo('/api/public/rankings?page=4'), 2);
    for (let i = 0; i < 2; i++) await fetch(`${gw.url}/api/videos?page=1`, { headers: { authorization: 'Bearer aaa.bbb.ccc' } });
    assert.equal(callsTo('/api/videos?page=1'), 2);
  });
});

describe('votes forwarded in batches', () => {
  let voting: Server;
  let gw: RunningServer;
  let unbatched: RunningServer;
  /** the same gateway with a verifier that remembers verified tokens: plain votes skip Koa */
  let direct: RunningServer;
  const rememberingVerifier = remembering();
  const batches: { url: string; calls: { request_id: string; user_id: string; params: Record<string, string>; traceparent?: string }[] }[] = [];
  const single: string[] = [];
  /** how the fake voting answers its batch endpoint: 'ok' (an outcome per call), or a broken answer */
  let mode: 'ok' | 'garbage' | 'short' | '500' = 'ok';
  before(async () => {
    voting = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c));
      req.on('end', () => {
        if (req.url !== '/internal/votes') {
          single.push(req.url!);
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ single: true }));
          return;
        }
        const calls = JSON.parse(text);
        batches.push({ url: req.url!, calls });
        // slow enough that votes sent meanwhile gather
        setTimeout(() => {
          if (mode === '500') {
            res.statusCode = 500;
            return void res.end('{}');
          }
          res.setHeader('content-type', 'application/json');
          if (mode === 'garbage') return void res.end('[{"status":200');
          const outcomes = calls.map((c: { params: { video_id: string } }) =>
            c.params.video_id === 'gone'
              ? { status: 404, error: { code: 'VIDEO_NOT_FOUND', message: 'Video no encontrado.' } }
              : c.params.video_id === 'twice'
                ? { status: 400, error: { code: 'ALREADY_VOTED', message: 'Ya has votado por este video.', errors: [{ field: 'video_id', message: 'x' }] } }
                : { status: 200, body: { message: 'Voto registrado exitosamente.', video_id: c.params.video_id } },
          );
          res.end(JSON.stringify(mode === 'short' ? outcomes.slice(1) : outcomes));
        }, 20);
      });
    });
    await new Promise<void>((r) => voting.listen(0, '127.0.0.1', () => r()));
    const votingUrl = `http://127.0.0.1:${(voting.address() as AddressInfo).port}`;
    gw = await startGateway(upstreamUrl, { votingUrl });
    unbatched = await startGateway(upstreamUrl, { votingUrl, batching: false });
    direct = await startGateway(upstreamUrl, { votingUrl, verifier: rememberingVerifier });
  });
  after(async () => {
    await gw?.close();
    await unbatched?.close();
    await direct?.close();
    voting.closeAllConnections();
    await new Promise((r) => voting?.close(r));
  });
  const voteOn = (base: string, videoId: string, init: RequestInit = {}) =>
    fetch(`${base}/api/public/videos/${videoId}/vote`, { method: 'POST', ...init, headers: { authorization: 'Bearer aaa.bbb.ccc', ...init.headers } });

  test('concurrent votes reach voting together, each with its request id, verified user and video; each client gets its answer', async () => {
    mode = 'ok';
    batches.length = 0;
    const ids = Array.from({ length: 30 }, (_, i) => `video-${i}`);
    const answers = await Promise.all(ids.map((id, i) => voteOn(gw.url, id, { headers: { 'x-request-id': `req-${i}`, 'x-anb-user-id': 'forged' } })));
    for (const [i, res] of answers.entries()) {
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-request-id'), `req-${i}`);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      assert.deepEqual(await json(res), { message: 'Voto registrado exitosamente.', video_id: ids[i] });
    }
    const calls = batches.flatMap((b) => b.calls);
    assert.equal(calls.length, 30);
    assert.ok(batches.length < 30, `${batches.length} batches for 30 votes`);
    for (const c of calls) {
      const i = Number(c.request_id.slice(4));
      assert.deepEqual({ ...c, traceparent: undefined }, { request_id: `req-${i}`, user_id: userId, params: { video_id: ids[i] }, traceparent: undefined });
    }
  });

  test('an error outcome is the uniform error body, with the client’s request id', async () => {
    mode = 'ok';
    const gone = await voteOn(gw.url, 'gone', { headers: { 'x-request-id': 'req-gone' } });
    assert.equal(gone.status, 404);
    assert.deepEqual(await json(gone), { message: 'Video no encontrado.', code: 'VIDEO_NOT_FOUND', request_id: 'req-gone' });
    const twice = await voteOn(gw.url, 'twice');
    assert.equal(twice.status, 400);
    const body = await json(twice);
    assert.equal(body.code, 'ALREADY_VOTED');
    assert.deepEqual(body.errors, [{ field: 'video_id', message: 'x' }]);
    assert.equal(body.request_id, twice.headers.get('x-request-id'));
  });

  test('without a valid token it is 401 and voting is not asked', async () => {
    const before = batches.length;
    const res = await fetch(`${gw.url}/api/public/videos/v/vote`, { method: 'POST' });
    assert.equal(res.status, 401);
    const bad = await fetch(`${gw.url}/api/public/videos/v/vote`, { method: 'POST', headers: { authorization: 'Bearer x.y.z' } });
    assert.equal(bad.status, 401);
    assert.equal(batches.length, before);
  });

  test('a body is read and dropped, never forwarded; over the route limit it is 413', async () => {
    mode = 'ok';
    const withBody = await voteOn(gw.url, 'b1', { headers: { 'content-type': 'application/json' }, body: '{"ignored":true}' });
    assert.equal(withBody.status, 200);
    const before = batches.length;
    const big = await voteOn(gw.url, 'b2', { headers: { 'content-type': 'application/json' }, body: 'x'.repeat(70 * 1024) });
    assert.equal(big.status, 413);
    assert.equal((await json(big)).code, 'PAYLOAD_TOO_LARGE');
    assert.equal(batches.length, before);
  });

  test('a broken answer from voting is 503 for every vote of the batch; the next batch is unaffected', async () => {
    for (const broken of ['garbage', 'short', '500'] as const) {
      mode = broken;
      const answers = await Promise.all(['x1', 'x2', 'x3'].map((id) => voteOn(gw.url, id)));
      for (const res of answers) {
        assert.equal(res.status, 503, broken);
        const body = await json(res);
        assert.equal(body.code, 'SERVICE_UNAVAILABLE');
        assert.match(body.message, /voting/);
      }
    }
    mode = 'ok';
    assert.equal((await voteOn(gw.url, 'x4')).status, 200);
  });

  test('a voting that is down is 503 with Retry-After', async () => {
    const down = await startGateway(upstreamUrl, { votingUrl: 'http://127.0.0.1:9' });
    try {
      const res = await voteOn(down.url, 'v');
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.equal((await json(res)).code, 'SERVICE_UNAVAILABLE');
    } finally {
      await down.close();
    }
  });

  test('a vote with a path parameter too long for a batch goes on its own, and does not spoil the batch of the others', async () => {
    mode = 'ok';
    const long = 'v'.repeat(300);
    const before = batches.flatMap((b) => b.calls).length;
    const answers = await Promise.all([voteOn(gw.url, long), voteOn(gw.url, 'n1'), voteOn(gw.url, 'n2')]);
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200]);
    assert.deepEqual(await json(answers[0]!), { single: true });
    assert.equal(single.at(-1), `/api/public/videos/${long}/vote`);
    assert.deepEqual(batches.flatMap((b) => b.calls).slice(before).map((c) => c.params.video_id).sort(), ['n1', 'n2']);
  });

  test('a plain vote with a known token is answered in front of Koa exactly as Koa answers it; anything unusual goes through Koa', async () => {
    mode = 'ok';
    /** status, headers and body of the answer, without what differs between any two answers (date, a generated request id) */
    const answerOf = async (res: Response) => {
      const headers = Object.fromEntries([...res.headers].filter(([name]) => !['date', 'keep-alive', 'connection'].includes(name)));
      const text = await res.text();
      return { status: res.status, headers, text };
    };
    const cases: { name: string; path: string; init?: RequestInit; plain: boolean }[] = [
      { name: 'a vote', path: '/api/public/videos/d1/vote', init: { headers: { 'x-request-id': 'same-1' } }, plain: true },
      { name: 'unreserved characters', path: '/api/public/videos/A.b_c~9-Z/vote', init: { headers: { 'x-request-id': 'same-2' } }, plain: true },
      { name: 'a 404 outcome', path: '/api/public/videos/gone/vote', init: { headers: { 'x-request-id': 'same-3' } }, plain: true },
      { name: 'a 400 outcome with field errors', path: '/api/public/videos/twice/vote', init: { headers: { 'x-request-id': 'same-4' } }, plain: true },
      { name: 'Content-Length: 0', path: '/api/public/videos/d2/vote', init: { headers: { 'x-request-id': 'same-5', 'content-length': '0' } }, plain: true },
      { name: 'a body', path: '/api/public/videos/d3/vote', init: { headers: { 'x-request-id': 'same-6' }, body: '{}' }, plain: false },
      { name: 'a query string', path: '/api/public/videos/d4/vote?x=1', init: { headers: { 'x-request-id': 'same-7' } }, plain: false },
      { name: 'a trailing slash', path: '/api/public/videos/d5/vote/', init: { headers: { 'x-request-id': 'same-8' } }, plain: false },
      { name: 'an escaped parameter', path: '/api/public/videos/d%206/vote', init: { headers: { 'x-request-id': 'same-9' } }, plain: false },
      { name: 'a lower-case scheme', path: '/api/public/videos/d7/vote', init: { headers: { 'x-request-id': 'same-10', authorization: 'bearer aaa.bbb.ccc' } }, plain: false },
      { name: 'a token never verified (verified in front of Koa, refused)', path: '/api/public/videos/d8/vote', init: { headers: { 'x-request-id': 'same-11', authorization: 'Bearer x.y.z' } }, plain: true },
      { name: 'a malformed token', path: '/api/public/videos/d10/vote', init: { headers: { 'x-request-id': 'same-13', authorization: 'Bearer x.y' } }, plain: false },
      { name: 'two spaces after the scheme', path: '/api/public/videos/d11/vote', init: { headers: { 'x-request-id': 'same-14', authorization: 'Bearer  aaa.bbb.ccc' } }, plain: false },
      { name: 'a parameter too long for a batch', path: `/api/public/videos/${'v'.repeat(201)}/vote`, init: { headers: { 'x-request-id': 'same-12' } }, plain: false },
      { name: 'a request id that is not sane (a new one each time)', path: '/api/public/videos/d9/vote', init: { headers: { 'x-request-id': 'no spaces allowed' } }, plain: true },
    ];
    for (const c of cases) {
      const send = (base: string) => fetch(`${base}${c.path}`, { method: 'POST', ...c.init, headers: { authorization: 'Bearer aaa.bbb.ccc', ...c.init?.headers } });
      const before = rememberingVerifier.lookups;
      const viaKoa = await answerOf(await send(gw.url));
      const viaDirect = await answerOf(await send(direct.url));
      if (c.name.startsWith('a request id')) {
        assert.match(viaDirect.headers['x-request-id'] ?? '', /^[\da-f-]{36}$/);
        assert.notEqual(viaDirect.headers['x-request-id'], viaKoa.headers['x-request-id']);
        delete viaDirect.headers['x-request-id'];
        delete viaKoa.headers['x-request-id'];
      }
      assert.deepEqual(viaDirect, viaKoa, c.name);
      // a plain call is taken in front of Koa (which looks its token up), an unusual one is not
      assert.equal(rememberingVerifier.lookups - before, c.plain ? 1 : 0, c.name);
    }
  });

  test('answered in front of Koa: a broken or absent voting is 503 (with Retry-After when down), the next batch is unaffected', async () => {
    for (const broken of ['garbage', 'short', '500'] as const) {
      mode = broken;
      const answers = await Promise.all(['y1', 'y2', 'y3'].map((id) => voteOn(direct.url, id, { headers: { 'x-request-id': `broken-${id}` } })));
      for (const [i, res] of answers.entries()) {
        assert.equal(res.status, 503, broken);
        const body = await json(res);
        assert.deepEqual([body.code, body.request_id], ['SERVICE_UNAVAILABLE', `broken-y${i + 1}`]);
        assert.match(body.message, /voting/);
      }
    }
    mode = 'ok';
    assert.equal((await voteOn(direct.url, 'y4')).status, 200);
    const down = await startGateway(upstreamUrl, { votingUrl: 'http://127.0.0.1:9', verifier: rememberingVerifier });
    try {
      const before = rememberingVerifier.lookups;
      const res = await voteOn(down.url, 'v');
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.equal((await json(res)).code, 'SERVICE_UNAVAILABLE');
      assert.equal(rememberingVerifier.lookups, before + 1);
    } finally {
      await down.close();
    }
  });

  test('directCalls: false sends every vote through Koa', async () => {
    mode = 'ok';
    const viaKoa = await startGateway(upstreamUrl, { votingUrl: `http://127.0.0.1:${(voting.address() as AddressInfo).port}`, verifier: rememberingVerifier, directCalls: false });
    try {
      const before = rememberingVerifier.lookups;
      assert.equal((await voteOn(viaKoa.url, 'k1')).status, 200);
      assert.equal(rememberingVerifier.lookups, before);
    } finally {
      await viaKoa.close();
    }
  });

  test('batching: false forwards each vote on its own', async () => {
    const before = batches.length;
    const res = await voteOn(unbatched.url, 'solo');
    assert.equal(res.status, 200);
    assert.deepEqual(await json(res), { single: true });
    assert.equal(single.at(-1), '/api/public/videos/solo/vote');
    assert.equal(batches.length, before);
  });
});

describe('reads with a token answered in front of Koa', () => {
  /** a service that answers each case its own way, echoing the headers it was sent */
  let service: Server;
  let serviceUrl: string;
  let viaKoa: RunningServer;
  let direct: RunningServer;
  const rememberingVerifier = remembering();
  const large = Buffer.alloc(1536 * 1024, 'x');
  before(async () => {
    service = createServer((req, res) => {
      const answer = new URL(req.url!, 'http://x').searchParams.get('case');
      const { host: _host, connection: _connection, ...sent } = req.headers;
      res.setHeader('x-request-id', 'the-service-own');
      if (answer === '404') {
        res.writeHead(404, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ code: 'VIDEO_NOT_FOUND', message: 'Video no encontrado.' }));
      }
      if (answer === '304') return void res.writeHead(304, { etag: 'W/"v1"', 'cache-control': 'private', 'content-type': 'application/json' }).end();
      if (answer === '204') return void res.writeHead(204, { 'x-note': 'empty' }).end();
      if (answer === 'untyped') return void res.end('plain bytes');
      if (answer === 'large') return void res.writeHead(200, { 'content-type': 'text/plain', 'content-length': large.length }).end(large);
      if (answer === 'chunked') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first,');
        return void setTimeout(() => res.end('second'), 10);
      }
      // (the gateway's own address, which differs between the two gateways, as the same word)
      const body = JSON.stringify({ url: req.url, sent }).replace(/127\.0\.0\.1:\d+/g, 'the-gateway');
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-total-count': '3', vary: 'Authorization', 'cache-control': 'private, no-store', 'set-cookie': ['a=1', 'b=2'] });
      res.end(body);
    });
    await new Promise<void>((r) => service.listen(0, '127.0.0.1', () => r()));
    serviceUrl = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
    viaKoa = await startGateway(serviceUrl, { votingUrl: serviceUrl, verifier: rememberingVerifier, directCalls: false });
    direct = await startGateway(serviceUrl, { votingUrl: serviceUrl, verifier: rememberingVerifier });
  });
  after(async () => {
    await viaKoa?.close();
    await direct?.close();
    service.closeAllConnections();
    await new Promise((r) => service?.close(r));
  });

  /** status, headers and body, without what differs between any two answers (date, connection) */
  const answerOf = async (res: Response) => {
    const headers = Object.fromEntries([...res.headers].filter(([name]) => !['date', 'keep-alive', 'connection'].includes(name)));
    const text = await res.text();
    return { status: res.status, headers, text };
  };

  test('a GET with a token of a route that takes a user is answered in front of Koa exactly as Koa answers it; anything unusual goes through Koa', async () => {
    const token = { authorization: 'Bearer aaa.bbb.ccc' };
    const cases: { name: string; path: string; headers?: Record<string, string>; method?: string; plain: boolean }[] = [
      { name: 'the signed-in showcase', path: '/api/public/videos?city=Bogot%C3%A1&page=2', plain: true },
      { name: 'me', path: '/api/auth/me', plain: true },
      { name: "a player's video", path: '/api/videos/A.b_c~9-Z', plain: true },
      { name: 'behind a load balancer', path: '/api/videos', headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'HTTPS, http', 'x-forwarded-host': 'anb.example.org, inner' }, plain: true },
      { name: "the client's own user id and cookie are not passed on", path: '/api/auth/me', headers: { 'x-anb-user-id': '11111111-2222-4333-8444-555555555555', cookie: 's=1' }, plain: true },
      { name: "the service's error", path: '/api/public/videos?case=404', plain: true },
      { name: 'a 304', path: '/api/public/videos?case=304', plain: true },
      { name: 'a 204', path: '/api/videos/x?case=204', plain: true },
      { name: 'a body without a type', path: '/api/videos/x?case=untyped', plain: true },
      { name: 'a large answer (streamed)', path: '/api/videos/x?case=large', plain: true },
      { name: 'an unsized answer (streamed)', path: '/api/videos/x?case=chunked', plain: true },
      { name: 'a token never verified (refused)', path: '/api/auth/me', headers: { authorization: 'Bearer x.y.z' }, plain: true },
      { name: 'no token on a route where it is optional', path: '/api/public/videos?page=3', headers: { authorization: '' }, plain: false },
      { name: 'no token where it is required', path: '/api/auth/me', headers: { authorization: '' }, plain: false },
      { name: 'a lower-case scheme', path: '/api/auth/me', headers: { authorization: 'bearer aaa.bbb.ccc' }, plain: false },
      { name: 'a trailing slash', path: '/api/auth/me/', plain: false },
      { name: 'an escaped parameter', path: '/api/videos/d%206', plain: false },
      { name: 'HEAD', path: '/api/auth/me', method: 'HEAD', plain: false },
      { name: 'a route without a user', path: '/api/public/rankings?page=9', plain: false },
    ];
    for (const c of cases) {
      const send = (base: string) => {
        const headers: Record<string, string> = { ...token, 'x-request-id': `read-${cases.indexOf(c)}`, ...c.headers };
        if (!headers.authorization) delete headers.authorization;
        return fetch(`${base}${c.path}`, { method: c.method ?? 'GET', headers });
      };
      const before = rememberingVerifier.lookups;
      const koa = await answerOf(await send(viaKoa.url));
      assert.equal(rememberingVerifier.lookups, before, 'Koa verifies, it does not look up');
      const answered = await answerOf(await send(direct.url));
      assert.deepEqual(answered, koa, c.name);
      assert.equal(rememberingVerifier.lookups - before, c.plain ? 1 : 0, `${c.name}: ${c.plain ? 'in front of Koa' : 'through Koa'}`);
    }
    // what the service was sent, through either: the verified user, the request id, X-Forwarded-*, no credentials
    const seenBy = async (base: string): Promise<Record<string, string>> =>
      (await json(await fetch(`${base}/api/videos`, { headers: { ...token, 'x-request-id': 'seen', 'x-forwarded-proto': 'HTTPS, http', 'x-forwarded-host': 'anb.example.org' } }))).sent;
    const sent = await seenBy(direct.url);
    assert.deepEqual(sent, await seenBy(viaKoa.url));
    assert.equal(sent['x-anb-user-id'], userId);
    assert.equal(sent['x-request-id'], 'seen');
    assert.deepEqual([sent['x-forwarded-for'], sent['x-forwarded-proto'], sent['x-forwarded-host']], ['127.0.0.1', 'https', 'anb.example.org']);
    assert.equal(sent.authorization, undefined);
  });

  test('a service that is down is 503 with Retry-After both ways; a client that leaves a streamed answer stops the call', async () => {
    const downKoa = await startGateway('http://127.0.0.1:9', { verifier: rememberingVerifier, directCalls: false });
    const downDirect = await startGateway('http://127.0.0.1:9', { verifier: rememberingVerifier });
    try {
      const send = (base: string) => fetch(`${base}/api/public/videos?page=1`, { headers: { authorization: 'Bearer aaa.bbb.ccc', 'x-request-id': 'down-1' } });
      const koa = await answerOf(await send(downKoa.url));
      const before = rememberingVerifier.lookups;
      const answered = await answerOf(await send(downDirect.url));
      assert.equal(rememberingVerifier.lookups, before + 1);
      assert.deepEqual(answered, koa);
      assert.equal(answered.status, 503);
      assert.equal(answered.headers['retry-after'], '5');
    } finally {
      await downKoa.close();
      await downDirect.close();
    }
    // the client reads a little of a large answer and goes away: the gateway's call to the service ends too
    const closed = new Promise<void>((resolve) => service.once('request', (_req, res) => res.once('close', () => resolve())));
    const controller = new AbortController();
    const res = await fetch(`${direct.url}/api/videos/x?case=large`, { headers: { authorization: 'Bearer aaa.bbb.ccc' }, signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await closed;
  });
});

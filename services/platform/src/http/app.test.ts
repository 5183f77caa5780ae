import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorCatalogue } from '@anb/contracts';
import { createLogger } from '@anb/observability';
import { Router, createHttpApp, requestMetadata } from './app';
import { startHttpServer, type RunningServer } from './server';

/** The request id of every request: echoed, in the log lines about the request, and in the events it records. */
let server: RunningServer;
const lines: Record<string, unknown>[] = [];
let metadataSeen: ReturnType<typeof requestMetadata> | undefined;

before(async () => {
  const logger = createLogger({ service: 'http-test', level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
  const router = new Router();
  router.post('/things', async (ctx) => {
    // what a handler that records an event passes to the store
    metadataSeen = requestMetadata(ctx);
    await new Promise((resolve) => setTimeout(resolve, 5));
    ctx.body = { ok: true };
  });
  router.get('/broken', async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    throw new Error('boom');
  });
  server = await startHttpServer(createHttpApp({ service: 'http-test', version: 'test', logger, router }), { port: 0, host: '127.0.0.1' });
});
after(async () => {
  await server?.close();
});

const linesOf = (requestId: string) => lines.filter((l) => l.request_id === requestId);

describe('request ids', () => {
  test('a sane x-request-id is kept: echoed, on the access line, and the correlation of what the request records', async () => {
    const userId = '0b6f1f5e-2f0c-4b8e-9a8f-3f1c2d4e5a6b';
    const res = await fetch(`${server.url}/things`, { method: 'POST', headers: { 'x-request-id': 'req-kept-1', 'x-anb-user-id': userId } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), 'req-kept-1');
    assert.deepEqual(metadataSeen, { correlationId: 'req-kept-1', causationId: 'req-kept-1', requestId: 'req-kept-1', actor: userId });
    const access = linesOf('req-kept-1');
    assert.equal(access.length, 1);
    assert.equal(access[0]!.msg, 'request');
    assert.equal(access[0]!.status, 200);
    assert.equal(access[0]!.path, '/things');
  });

  test('without one (or with an insane one) a new id is made, and there is no actor without a user', async () => {
    const res = await fetch(`${server.url}/things`, { method: 'POST', headers: { 'x-request-id': 'spaces are not allowed' } });
    const id = res.headers.get('x-request-id')!;
    assert.match(id, /^[\da-f]{8}-[\da-f]{4}-4[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/);
    assert.deepEqual(metadataSeen, { correlationId: id, causationId: id, requestId: id });
    assert.equal(linesOf(id).length, 1);
  });

  test('a failure is logged with the request id, and concurrent requests never swap ids', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `req-concurrent-${i}`);
    const answers = await Promise.all(ids.map((id, i) => fetch(`${server.url}${i % 2 ? '/broken' : '/things'}`, { method: i % 2 ? 'GET' : 'POST', headers: { 'x-request-id': id } })));
    for (const [i, res] of answers.entries()) {
      assert.equal(res.status, i % 2 ? 500 : 200);
      if (i % 2) assert.equal(((await res.json()) as { request_id: string }).request_id, ids[i]);
      const about = linesOf(ids[i]!);
      // the access line, plus the error line for a failure
      assert.deepEqual(about.map((l) => l.msg).sort(), i % 2 ? ['request', 'unhandled error'] : ['request']);
      assert.ok(about.every((l) => l.path === (i % 2 ? '/broken' : '/things')));
    }
  });
});

describe('/health', () => {
  test('GET answers the health report; another method is 405 in the contract’s shape, with Allow', async () => {
    const ok = await fetch(`${server.url}/health`);
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { status: string }).status, 'healthy');
    assert.equal((await fetch(`${server.url}/health`, { method: 'HEAD' })).status, 200);
    const post = await fetch(`${server.url}/health`, { method: 'POST', headers: { 'x-request-id': 'health-post' } });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'HEAD, GET');
    assert.deepEqual(await post.json(), { message: errorCatalogue.METHOD_NOT_ALLOWED.message, code: 'METHOD_NOT_ALLOWED', request_id: 'health-post' });
  });
});

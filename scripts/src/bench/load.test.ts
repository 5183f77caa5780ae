import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parseAnswer, requestText, runLoad } from './load';

const bytes = (text: string) => Buffer.from(text, 'latin1');

describe('the load generator', () => {
  test('a request is one string; a POST without a body says Content-Length: 0', () => {
    assert.equal(requestText({ path: '/a?b=1' }, '127.0.0.1:9'), 'GET /a?b=1 HTTP/1.1\r\nhost: 127.0.0.1:9\r\n\r\n');
    assert.equal(
      requestText({ path: '/v', method: 'POST', headers: { authorization: 'Bearer t' } }, 'h'),
      'POST /v HTTP/1.1\r\nhost: h\r\nauthorization: Bearer t\r\ncontent-length: 0\r\n\r\n',
    );
    // never twice (a server refuses a request with two lengths)
    assert.equal(requestText({ path: '/v', method: 'POST', headers: { 'Content-Length': '0' } }, 'h'), 'POST /v HTTP/1.1\r\nhost: h\r\nContent-Length: 0\r\n\r\n');
  });

  test('answers are framed by Content-Length, chunks (with trailers) or the end of the connection', () => {
    const sized = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello';
    assert.deepEqual(parseAnswer(bytes(sized), false), { answer: { status: 200, keepAlive: true }, length: sized.length });
    // the next answer's bytes are left for it
    assert.deepEqual(parseAnswer(bytes(`${sized}HTTP/1.1 404`), false), { answer: { status: 200, keepAlive: true }, length: sized.length });
    assert.equal(parseAnswer(bytes(sized.slice(0, -1)), false), 'incomplete');
    assert.equal(parseAnswer(bytes('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n'), false), 'incomplete');

    const chunked = 'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n1\r\n!\r\n0\r\nX-Trailer: 1\r\n\r\n';
    assert.deepEqual(parseAnswer(bytes(chunked), false), { answer: { status: 201, keepAlive: true }, length: chunked.length });
    for (const cut of [chunked.length - 1, chunked.length - 3, 60, 52]) assert.equal(parseAnswer(bytes(chunked.slice(0, cut)), false), 'incomplete', `cut at ${cut}`);
    assert.throws(() => parseAnswer(bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'), false), /hex/);

    const closing = 'HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\nboom';
    assert.equal(parseAnswer(bytes(closing), false), 'incomplete');
    assert.deepEqual(parseAnswer(bytes(closing), true), { answer: { status: 500, keepAlive: false }, length: closing.length });
    const sizedClose = 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}';
    assert.deepEqual(parseAnswer(bytes(sizedClose), false), { answer: { status: 400, keepAlive: false }, length: sizedClose.length });
  });

  test('304 and 204 have no body; interim 1xx answers are skipped', () => {
    const notModified = 'HTTP/1.1 304 Not Modified\r\nETag: W/"x"\r\nContent-Length: 120\r\n\r\n';
    assert.deepEqual(parseAnswer(bytes(notModified), false), { answer: { status: 304, keepAlive: true }, length: notModified.length });
    const continued = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n';
    assert.deepEqual(parseAnswer(bytes(continued), false), { answer: { status: 204, keepAlive: true }, length: continued.length });
    assert.throws(() => parseAnswer(bytes('SSH-2.0-OpenSSH\r\n\r\n'), false), /not an HTTP answer/);
  });

  describe('against servers', () => {
    let server: Server;
    let url: string;
    const seen: { method: string; path: string; authorization?: string | undefined; length?: string | undefined }[] = [];
    before(async () => {
      let n = 0;
      server = createServer((req, res) => {
        seen.push({ method: req.method!, path: req.url!, authorization: req.headers.authorization, length: req.headers['content-length'] });
        n++;
        // every third answer is chunked, every fifth closes the connection
        if (n % 5 === 0) res.setHeader('connection', 'close');
        if (n % 3 === 0) {
          res.statusCode = 201;
          res.write('part one,');
          setImmediate(() => res.end(' part two'));
        } else res.end(JSON.stringify({ n }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    test('runs every request it is given, over kept-alive and reopened connections', async () => {
      const result = await runLoad({
        baseUrl: url,
        connections: 4,
        next: (i) => (i < 60 ? { path: `/x/${i}`, method: i % 2 ? 'POST' : 'GET', headers: { authorization: `Bearer ${i}` } } : undefined),
      });
      assert.equal(result.requests, 60);
      assert.equal(result.failures, 0);
      assert.deepEqual(result.statuses, { 200: 40, 201: 20 });
      assert.equal(result.timeline.ms.length, 60);
      assert.ok(result.p50 > 0 && result.p99 >= result.p50 && result.max >= result.p99);
      assert.deepEqual(seen.map((s) => s.path).sort(), Array.from({ length: 60 }, (_, i) => `/x/${i}`).sort());
      for (const s of seen) {
        const i = Number(s.path.split('/')[2]);
        assert.equal(s.method, i % 2 ? 'POST' : 'GET');
        assert.equal(s.authorization, `Bearer ${i}`);
        assert.equal(s.length, i % 2 ? '0' : undefined);
      }
    });

    test('a server that hangs up without answering counts as failures, not answers', async () => {
      const rude = createTcpServer((socket) => socket.once('data', () => socket.destroy()));
      await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', resolve));
      try {
        const result = await runLoad({ baseUrl: `http://127.0.0.1:${(rude.address() as AddressInfo).port}`, connections: 2, next: (i) => (i < 6 ? { path: '/' } : undefined) });
        assert.equal(result.failures, 6);
        assert.deepEqual(result.statuses, {});
        assert.equal(result.timeline.ms.length, 0);
      } finally {
        await new Promise<void>((resolve) => rude.close(() => resolve()));
      }
    });
  });
});

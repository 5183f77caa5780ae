import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createDatabase } from '@anb/platform';
import { waitFor } from '@anb/platform/local';
import type { SpanRecord } from '@anb/observability/files';
import { loadSpans } from '../trace';
import { testClip, uploadForm } from './media';
import { startTestStack, type TestStack } from './support';

/**
 * One trace per video journey, through every service, and logs that correlate with it and never
 * carry a secret.
 */
let stack: TestStack;
const lines: { service: string; line: string }[] = [];

before(async () => {
  stack = await startTestStack({ logs: (service, line) => lines.push({ service, line }), env: { OTEL_METRIC_EXPORT_INTERVAL: '1000' } });
});
after(async () => {
  await stack?.stop();
});

/**
 * Waits until trace `traceId` holds every span `want` looks for (else fails naming the missing ones),
 * checks it has one root — the gateway's request (`parts.gateway`) — and gives its spans, the parts,
 * and each span's chain of ancestors (span ids, itself first).
 */
async function traceTree<P extends { gateway: SpanRecord | undefined } & Record<string, SpanRecord | undefined>>(
  file: string,
  traceId: string,
  want: (spans: SpanRecord[]) => P,
): Promise<{ spans: SpanRecord[]; parts: P; ancestors: (span: SpanRecord) => string[] }> {
  const { spans, parts } = await waitFor(
    () => {
      const spans = loadSpans(file).filter((s) => s.traceId === traceId);
      const parts = want(spans);
      return Object.values(parts).every(Boolean) ? { spans, parts } : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 500, message: `every step in trace ${traceId}` },
  ).catch((error) => {
    const spans = loadSpans(file).filter((s) => s.traceId === traceId);
    const missing = Object.entries(want(spans)).filter(([, v]) => !v).map(([k]) => k);
    throw new Error(`${(error as Error).message}; missing: ${missing.join(', ')}; have: ${spans.map((s) => `${s.service}:${s.name}`).join(' | ')}`);
  });
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const roots = spans.filter((s) => !s.parentSpanId || !byId.has(s.parentSpanId));
  assert.deepEqual(roots.map((s) => s.spanId), [parts.gateway!.spanId], 'one root: the gateway request');
  const ancestors = (span: SpanRecord) => {
    const chain: string[] = [];
    for (let s: SpanRecord | undefined = span; s; s = s.parentSpanId ? byId.get(s.parentSpanId) : undefined) chain.push(s.spanId);
    return chain;
  };
  return { spans, parts, ancestors };
}

/** the chain of causes: each span below the one before it */
function assertChain(order: readonly SpanRecord[], ancestors: (span: SpanRecord) => string[]): void {
  for (let i = 1; i < order.length; i++) {
    assert.ok(ancestors(order[i]!).includes(order[i - 1]!.spanId), `${order[i]!.service}:${order[i]!.name} descends from ${order[i - 1]!.name}`);
  }
}

describe('one trace from upload to published', () => {
  let traceId: string;
  let videoId: string;
  let player: { userId: string; token: string; email: string; signup: { password1: string } };

  test('upload, then wait until the video is public', async () => {
    const [p, clip] = await Promise.all([stack.api.newPlayer({ city: 'Cali' }), testClip({ width: 1920, height: 1080, seconds: 21 })]);
    player = p;
    const started = Math.floor(Date.now() / 1000);
    const res = await stack.api.request('POST', '/api/videos/upload', {
      token: player.token,
      body: await uploadForm(clip, { title: 'Traza' }),
      headers: { 'x-request-id': 'trace-journey-1' },
    });
    assert.equal(res.status, 201, res.text);
    videoId = res.body.video_id;
    traceId = res.headers.get('x-trace-id')!;
    assert.match(traceId, /^[\da-f]{32}$/);
    assert.match(res.headers.get('traceparent') ?? '', new RegExp(`^00-${traceId}-[\\da-f]{16}-01$`));
    assert.equal(res.headers.get('x-amzn-trace-id'), `Root=1-${traceId.slice(0, 8)}-${traceId.slice(8)}`);
    // X-Ray compatible: the first 8 hex digits are the epoch seconds
    const epoch = parseInt(traceId.slice(0, 8), 16);
    assert.ok(epoch >= started - 60 && epoch <= Math.floor(Date.now() / 1000) + 60, `trace id epoch ${epoch}`);

    await waitFor(
      async () => {
        const list = await stack.api.get('/api/public/videos?page_size=100');
        return list.body.some?.((v: { video_id: string }) => v.video_id === videoId);
      },
      { timeoutMs: 240_000, intervalMs: 500, message: 'the video reaches the public showcase' },
    );
  });

  test('the spans of every service hang in one unbroken tree under the gateway request', async () => {
    const file = join(stack.telemetryDir, 'spans.jsonl');
    const want = (spans: SpanRecord[]) => ({
      gateway: spans.find((s) => s.service === 'gateway' && s.kind === 1 && s.name.startsWith('POST')),
      append: spans.find((s) => s.service === 'video-catalog' && s.name.startsWith('pg.query:INSERT')),
      relayUploaded: spans.find((s) => s.service === 'video-catalog' && s.kind === 3 && s.attributes['anb.event.type'] === 'VideoUploaded'),
      processingConsume: spans.find((s) => s.service === 'processing' && s.kind === 4 && s.attributes['anb.event.type'] === 'VideoUploaded'),
      encode: spans.find((s) => s.service === 'processing' && typeof s.attributes['anb.encode.ms'] === 'number'),
      s3Upload: spans.find((s) => s.service === 'processing' && /S3\.(PutObject|CompleteMultipartUpload|UploadPart)/.test(s.name)),
      processingPublish: spans.find((s) => s.service === 'processing' && s.kind === 3),
      catalogConsume: spans.find((s) => s.service === 'video-catalog' && s.kind === 4 && s.attributes['anb.event.type'] === 'VideoProcessed'),
      relayPublished: spans.find((s) => s.service === 'video-catalog' && s.kind === 3 && s.attributes['anb.event.type'] === 'VideoPublished'),
      votingConsume: spans.find((s) => s.service === 'voting' && s.kind === 4 && s.attributes['anb.event.type'] === 'VideoPublished'),
    });
    const { spans, parts, ancestors } = await traceTree(file, traceId, want);
    // processing publishes Started, then Processed: the catalog's consumer hangs under one of its publishes
    const processingPublish = spans.find(
      (s) => s.service === 'processing' && s.kind === 3 && ancestors(parts.catalogConsume!).includes(s.spanId),
    );
    assert.ok(processingPublish, 'the catalog consumes under a processing publish');
    assertChain([parts.gateway!, parts.relayUploaded!, parts.processingConsume!, processingPublish, parts.catalogConsume!, parts.relayPublished!, parts.votingConsume!], ancestors);
    assert.ok(ancestors(parts.encode!).includes(parts.processingConsume!.spanId));
    assert.ok(ancestors(parts.append!).includes(parts.gateway!.spanId));
    // consumers also link to their producer
    assert.ok(parts.processingConsume!.links?.some((l) => l.spanId === parts.relayUploaded!.spanId));
    assert.ok(spans.some((s) => Object.values(s.attributes).includes(videoId)), 'the video id is searchable');
  });

  test('a vote is one trace too: the gateway request, voting’s part of the batch it went in, the VoteCast publish, the catalog consuming it', async () => {
    const voter = await stack.api.newPlayer({ city: 'Pasto' });
    const res = await stack.api.request('POST', `/api/public/videos/${videoId}/vote`, { token: voter.token, headers: { 'x-request-id': 'trace-vote-1' } });
    assert.equal(res.status, 200, res.text);
    const voteTrace = res.headers.get('x-trace-id')!;
    assert.match(voteTrace, /^[\da-f]{32}$/);
    const file = join(stack.telemetryDir, 'spans.jsonl');
    const want = (spans: SpanRecord[]) => ({
      gateway: spans.find((s) => s.service === 'gateway' && s.kind === 1 && s.name.startsWith('POST')),
      voting: spans.find((s) => s.service === 'voting' && s.kind === 1 && s.attributes['anb.request_id'] === 'trace-vote-1'),
      publish: spans.find((s) => s.service === 'voting' && s.kind === 3 && s.attributes['anb.event.type'] === 'VoteCast'),
      catalogConsume: spans.find((s) => s.service === 'video-catalog' && s.kind === 4 && s.attributes['anb.event.type'] === 'VoteCast'),
    });
    const { parts, ancestors } = await traceTree(file, voteTrace, want);
    // the batch the vote went in makes no trace of its own (only its calls are traced, each in its client's)
    assert.deepEqual(loadSpans(file).filter((s) => s.service === 'voting' && /internal\/votes/.test(`${s.name} ${JSON.stringify(s.attributes)}`)).map((s) => s.name), []);
    assertChain([parts.gateway!, parts.voting!, parts.publish!, parts.catalogConsume!], ancestors);
  });

  test('a vote answered in front of Koa is the same trace as one that goes through Koa, with the same gateway span', async () => {
    const file = join(stack.telemetryDir, 'spans.jsonl');
    /** a vote's trace: its gateway span, the rest of its chain, and its Koa spans (only the vote that went through Koa has any) */
    const voteTrace = async (token: string, requestId: string, query = '') => {
      const res = await stack.api.request('POST', `/api/public/videos/${videoId}/vote${query}`, { token, headers: { 'x-request-id': requestId } });
      assert.equal(res.status, 200, res.text);
      const traceId = res.headers.get('x-trace-id')!;
      assert.match(traceId, /^[\da-f]{32}$/);
      assert.equal(res.headers.get('x-amzn-trace-id'), `Root=1-${traceId.slice(0, 8)}-${traceId.slice(8)}`);
      const { spans, parts, ancestors } = await traceTree(file, traceId, (all) => ({
        gateway: all.find((s) => s.service === 'gateway' && s.kind === 1 && s.name.startsWith('POST')),
        voting: all.find((s) => s.service === 'voting' && s.kind === 1 && s.attributes['anb.request_id'] === requestId),
        publish: all.find((s) => s.service === 'voting' && s.kind === 3 && s.attributes['anb.event.type'] === 'VoteCast'),
      }));
      assertChain([parts.gateway!, parts.voting!, parts.publish!], ancestors);
      return { gateway: parts.gateway!, koaSpans: spans.filter((s) => s.service === 'gateway' && /^(router|middleware) - /.test(s.name)).length };
    };
    // a plain vote is answered in front of Koa; one with a query string (ignored by the route) goes through Koa
    const [viaKoa, plain] = await Promise.all([stack.api.newPlayer({ city: 'Tunja' }), stack.api.newPlayer({ city: 'Neiva' })]);
    const throughKoa = await voteTrace(viaKoa.token, 'trace-vote-koa', '?through=koa');
    const direct = await voteTrace(plain.token, 'trace-vote-direct');
    assert.ok(throughKoa.koaSpans > 0, 'the vote with a query string went through Koa');
    assert.equal(direct.koaSpans, 0, 'the plain vote was answered before Koa');
    assert.equal(throughKoa.gateway.attributes['http.route'], '/api/public/videos/:video_id/vote');
    assert.equal(direct.gateway.name, throughKoa.gateway.name);
    assert.equal(direct.gateway.attributes['http.route'], throughKoa.gateway.attributes['http.route']);
    assert.equal(direct.gateway.attributes['http.response.status_code'] ?? direct.gateway.attributes['http.status_code'], 200);
  });

  test('the events of the journey are correlated with the upload request, the owner as the upload’s actor', async () => {
    const db = createDatabase({ url: stack.databaseUrl, poolMax: 1 });
    try {
      const rows = (await db('catalog.events').where({ stream_id: `video:${videoId}` }).orderBy('stream_version').select('type', 'metadata')) as {
        type: string;
        metadata: { correlationId: string; causationId: string; requestId?: string; actor?: string };
      }[];
      const uploaded = rows.find((r) => r.type === 'VideoUploaded')!;
      assert.deepEqual([uploaded.metadata.correlationId, uploaded.metadata.causationId, uploaded.metadata.requestId, uploaded.metadata.actor], [
        'trace-journey-1',
        'trace-journey-1',
        'trace-journey-1',
        player.userId,
      ]);
      // what processing's answers made the catalog record keeps the upload's correlation
      const published = rows.find((r) => r.type === 'VideoPublished');
      assert.equal(published?.metadata.correlationId, 'trace-journey-1');
    } finally {
      await db.destroy();
    }
  });

  test('log lines of the journey carry its request id and trace id, in X-Ray form too', () => {
    const journey = lines
      .filter(({ line }) => line.startsWith('{'))
      .map(({ service, line }) => ({ service, json: JSON.parse(line) as Record<string, unknown> }))
      .filter(({ json }) => json.request_id === 'trace-journey-1');
    assert.ok(journey.some((l) => l.service === 'gateway'));
    assert.ok(journey.some((l) => l.service === 'video-catalog'));
    for (const { json } of journey) {
      assert.equal(json.trace_id, traceId);
      assert.equal(json.xray_trace_id, `1-${traceId.slice(0, 8)}-${traceId.slice(8)}`);
      assert.match(String(json.span_id), /^[\da-f]{16}$/);
    }
    const processing = lines.filter(({ service, line }) => service === 'processing' && line.includes(traceId));
    assert.ok(processing.length > 0, 'processing logs the journey under the same trace');
  });

  test('no password, token or hash ever reaches a log line', async () => {
    // a failed login with the right email logs nothing secret either
    await stack.api.post('/api/auth/login', { email: player.email, password: 'wrong-password-123' });
    const all = lines.map((l) => l.line).join('\n');
    assert.ok(all.length > 0);
    for (const secret of [player.signup.password1, player.token, player.token.split('.')[2]!, 'wrong-password-123', '$argon2id$', 'BEGIN PRIVATE KEY']) {
      assert.ok(!all.includes(secret), `a log line contains ${secret.slice(0, 12)}…`);
    }
  });

  test('metrics reach the local file: HTTP per route, relay lag, queues and DLQs, processing outcomes', async () => {
    const file = join(stack.telemetryDir, 'metrics.jsonl');
    const wanted = [
      (m: { service: string; name: string; attributes: Record<string, unknown> }) =>
        m.service === 'gateway' && m.name === 'http.server.request.duration' && m.attributes['http.route'] === '/api/videos/upload',
      (m: { service: string; name: string }) => m.service === 'video-catalog' && m.name === 'anb.subscription.pending_events',
      (m: { service: string; name: string; attributes: Record<string, unknown> }) =>
        m.service === 'processing' && m.name === 'anb.queue.messages' && String(m.attributes.queue).endsWith('-processing-dlq'),
      (m: { service: string; name: string; attributes: Record<string, unknown> }) =>
        m.service === 'processing' && m.name === 'anb.processing.jobs' && m.attributes.outcome === 'processed',
    ];
    await waitFor(
      () => {
        if (!existsSync(file)) return false;
        const metrics = readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { service: string; name: string; attributes: Record<string, unknown> });
        return wanted.every((w) => metrics.some(w));
      },
      { timeoutMs: 45_000, intervalMs: 500, message: 'the expected metrics in metrics.jsonl' },
    );
  });
});

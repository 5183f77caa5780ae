import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SpanRecord } from '@anb/observability/files';
import { normaliseTraceId, tracesMentioning, waterfall } from './trace';

const span = (over: Partial<SpanRecord>): SpanRecord => ({
  traceId: 'a'.repeat(32),
  spanId: '1'.repeat(16),
  name: 'x',
  kind: 0,
  service: 'svc',
  start: 1_000_000,
  durationMs: 10,
  status: { code: 0 },
  attributes: {},
  ...over,
});

test('trace ids in X-Ray or W3C form', () => {
  assert.equal(normaliseTraceId('1-6b0714fa-e7bc4da196c66270e06da322'), '6b0714fae7bc4da196c66270e06da322');
  assert.equal(normaliseTraceId('6B0714FAE7BC4DA196C66270E06DA322'), '6b0714fae7bc4da196c66270e06da322');
  assert.equal(normaliseTraceId('7d3f9a52-3b1e-4c55-9d0a-2f6f1b0c9e11'), undefined);
});

test('a video id finds the traces whose spans mention it', () => {
  const spans = [
    span({ traceId: 'b'.repeat(32), attributes: { 'anb.event.stream': 'video:v-1' } }),
    span({ traceId: 'c'.repeat(32), attributes: { other: 'v-2' } }),
  ];
  assert.deepEqual(tracesMentioning(spans, 'v-1'), ['b'.repeat(32)]);
});

test('the waterfall nests children under parents, in start order, with offsets and failures', () => {
  const root = span({ spanId: 'r'.repeat(16), name: 'POST /api/videos/upload', kind: 1, start: 0, durationMs: 100 });
  const late = span({ spanId: 'l'.repeat(16), parentSpanId: root.spanId, name: 'late', start: 50_000, durationMs: 10 });
  const early = span({ spanId: 'e'.repeat(16), parentSpanId: root.spanId, name: 'early', start: 10_000, durationMs: 5, status: { code: 2, message: 'boom' } });
  const lines = waterfall([late, root, early]);
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^\s+0\.0 ms\s+100\.0 ms .*POST \/api\/videos\/upload \(server\)/);
  assert.match(lines[1]!, /10\.0 ms .*  early \(internal\) ✖ boom/);
  assert.match(lines[2]!, /50\.0 ms .*  late/);
});

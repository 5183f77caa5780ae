/**
 * `npm run trace -- <trace-id | video-id | request-id>`: the waterfall of a journey from the local span
 * file (every service of `npm start` writes to it), in the terminal. With no argument: the latest traces.
 *
 *   npm run trace -- 1-6b0714fa-e7bc4da196c66270e06da322     an X-Ray id (or the 32-hex W3C id)
 *   npm run trace -- 7d3f9a52-3b1e-4c55-9d0a-2f6f1b0c9e11     every trace that touched this video
 *   npm run trace -- --file path/to/spans.jsonl …            another span file
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SpanRecord } from '@anb/observability/files';
import { repoRoot } from './stack/stack';

const kinds = ['internal', 'server', 'client', 'producer', 'consumer'];
const keyAttributes = [
  'http.route',
  'http.request.method',
  'http.method',
  'http.response.status_code',
  'http.status_code',
  'anb.event.type',
  'anb.event.stream',
  'anb.video_id',
  'messaging.destination.name',
  'messaging.aws.sqs.receive_count',
  'ffmpeg.progress',
  'anb.processing.attempt',
  'rpc.method',
  'aws.s3.key',
  'db.statement',
];

export function loadSpans(file: string): SpanRecord[] {
  if (!existsSync(file)) return [];
  const spans: SpanRecord[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      spans.push(JSON.parse(line) as SpanRecord);
    } catch {
      // a line being written right now
    }
  }
  return spans;
}

/** W3C or X-Ray form → the 32-hex trace id. */
export function normaliseTraceId(id: string): string | undefined {
  const xray = /^1-([\da-f]{8})-([\da-f]{24})$/i.exec(id);
  if (xray) return (xray[1]! + xray[2]!).toLowerCase();
  return /^[\da-f]{32}$/i.test(id) ? id.toLowerCase() : undefined;
}

/** Trace ids whose spans mention the value (a video id, a request id…) in an attribute. */
export function tracesMentioning(spans: readonly SpanRecord[], value: string): string[] {
  const ids = new Set<string>();
  for (const span of spans) {
    if (Object.values(span.attributes).some((v) => typeof v === 'string' && v.includes(value))) ids.add(span.traceId);
  }
  return [...ids];
}

/** The waterfall lines of one trace: depth-first by parent, siblings by start time. */
export function waterfall(spans: readonly SpanRecord[], width = 40): string[] {
  if (spans.length === 0) return [];
  const start = Math.min(...spans.map((s) => s.start));
  const end = Math.max(...spans.map((s) => s.start + s.durationMs * 1000));
  const total = Math.max(1, (end - start) / 1000);
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, SpanRecord[]>();
  const roots: SpanRecord[] = [];
  for (const span of spans) {
    if (span.parentSpanId && ids.has(span.parentSpanId)) {
      const list = children.get(span.parentSpanId) ?? [];
      list.push(span);
      children.set(span.parentSpanId, list);
    } else roots.push(span);
  }
  const lines: string[] = [];
  const visit = (span: SpanRecord, depth: number) => {
    const offset = (span.start - start) / 1000;
    const from = Math.floor((offset / total) * width);
    const len = Math.max(1, Math.round((span.durationMs / total) * width));
    const bar = ' '.repeat(Math.min(from, width - 1)) + '█'.repeat(Math.min(len, width - Math.min(from, width - 1)));
    const failed = span.status.code === 2;
    const attrs = keyAttributes
      .filter((k) => span.attributes[k] !== undefined && span.attributes[k] !== '')
      .map((k) => `${k.replace(/^(anb|http|messaging)\./, '')}=${String(span.attributes[k]).slice(0, 60)}`)
      .join(' ');
    lines.push(
      `${offset.toFixed(1).padStart(9)} ms ${span.durationMs.toFixed(1).padStart(9)} ms │${bar.padEnd(width)}│ ` +
        `${span.service.padEnd(13)} ${'  '.repeat(depth)}${span.name} (${kinds[span.kind] ?? span.kind})` +
        `${failed ? ` ✖ ${span.status.message ?? 'error'}` : ''}${attrs ? `  ${attrs}` : ''}`,
    );
    for (const child of (children.get(span.spanId) ?? []).sort((a, b) => a.start - b.start)) visit(child, depth + 1);
  };
  for (const root of roots.sort((a, b) => a.start - b.start)) visit(root, 0);
  return lines;
}

function main() {
  const args = process.argv.slice(2);
  const fileIndex = args.indexOf('--file');
  const file =
    fileIndex >= 0
      ? args[fileIndex + 1]!
      : join(process.env.ANB_TELEMETRY_DIR ?? join(process.env.DATA_DIR ?? join(repoRoot, '.data'), 'telemetry'), 'spans.jsonl');
  const query = args.filter((_, i) => i !== fileIndex && i !== fileIndex + 1)[0];
  const spans = loadSpans(file);
  if (spans.length === 0) {
    console.log(`no spans in ${file} yet (start the stack with npm start and make a request)`);
    return;
  }
  const byTrace = new Map<string, SpanRecord[]>();
  for (const span of spans) byTrace.set(span.traceId, [...(byTrace.get(span.traceId) ?? []), span]);

  if (!query) {
    console.log('latest traces (npm run trace -- <trace id> for the waterfall):\n');
    const latest = [...byTrace.entries()].sort((a, b) => Math.max(...b[1].map((s) => s.start)) - Math.max(...a[1].map((s) => s.start))).slice(0, 20);
    for (const [id, list] of latest) {
      const root = list.find((s) => !s.parentSpanId) ?? list[0]!;
      const services = [...new Set(list.map((s) => s.service))].join(', ');
      console.log(`  1-${id.slice(0, 8)}-${id.slice(8)}  ${new Date(root.start / 1000).toISOString()}  ${root.name}  (${list.length} spans: ${services})`);
    }
    return;
  }
  const traceId = normaliseTraceId(query);
  const traceIds = traceId ? [traceId] : tracesMentioning(spans, query);
  if (traceIds.length === 0 || traceIds.every((id) => !byTrace.has(id))) {
    console.log(`no trace found for ${query} in ${file}`);
    process.exitCode = 1;
    return;
  }
  for (const id of traceIds) {
    const list = byTrace.get(id) ?? [];
    const services = [...new Set(list.map((s) => s.service))];
    console.log(`\ntrace 1-${id.slice(0, 8)}-${id.slice(8)}  (W3C ${id})  ${list.length} spans across ${services.join(', ')}\n`);
    for (const line of waterfall(list)) console.log(line);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // `npm run trace -- … | head` closes the pipe early: that is not an error
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  main();
}

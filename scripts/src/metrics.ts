/**
 * `npm run metrics`: the latest value of every metric the local stack's services exported (they write
 * metrics.jsonl next to the spans every 10 s): HTTP rate/latency/errors per route, relay lag, queue
 * depth and oldest message age (DLQs included), processing durations and outcomes, votes.
 *
 *   npm run metrics              everything
 *   npm run metrics -- queue     only metrics whose name contains "queue"
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './stack/stack';

interface MetricLine {
  time: string;
  service: string;
  name: string;
  unit?: string;
  attributes: Record<string, unknown>;
  value: number | { count: number; sum: number; min?: number; max?: number; buckets?: { boundaries: number[]; counts: number[] } };
}

const dir = process.env.ANB_TELEMETRY_DIR ?? join(process.env.DATA_DIR ?? join(repoRoot, '.data'), 'telemetry');
const file = join(dir, 'metrics.jsonl');
const filter = process.argv[2];

if (!existsSync(file)) {
  console.log(`no metrics in ${file} yet (npm start exports them every 10 s)`);
  process.exit(0);
}
const latest = new Map<string, MetricLine>();
for (const line of readFileSync(file, 'utf8').split('\n')) {
  if (!line.trim()) continue;
  try {
    const m = JSON.parse(line) as MetricLine;
    if (filter && !m.name.includes(filter)) continue;
    latest.set(`${m.service}|${m.name}|${JSON.stringify(m.attributes)}`, m);
  } catch {
    // a line being written
  }
}

/** p-quantile from an explicit-bucket histogram (upper bound of the bucket that holds it). */
function quantile(buckets: { boundaries: number[]; counts: number[] }, count: number, q: number): number | undefined {
  let seen = 0;
  for (let i = 0; i < buckets.counts.length; i++) {
    seen += buckets.counts[i]!;
    if (seen >= q * count) return buckets.boundaries[i] ?? Infinity;
  }
  return undefined;
}

const rows = [...latest.values()].sort((a, b) => a.service.localeCompare(b.service) || a.name.localeCompare(b.name));
for (const m of rows) {
  const attrs = Object.entries(m.attributes)
    .map(([k, v]) => `${k.replace(/^http\.(request\.|response\.)?/, '')}=${String(v)}`)
    .join(' ');
  let value: string;
  if (typeof m.value === 'number') value = `${Math.round(m.value * 1000) / 1000}${m.unit && m.unit !== '1' ? ` ${m.unit}` : ''}`;
  else {
    const h = m.value;
    const p95 = h.buckets ? quantile(h.buckets, h.count, 0.95) : undefined;
    const scale = m.unit === 's' ? 1000 : 1;
    const unit = m.unit === 's' ? 'ms' : (m.unit ?? '');
    value = `count=${h.count} mean=${((h.sum / Math.max(1, h.count)) * scale).toFixed(1)}${unit}${p95 !== undefined ? ` p95≤${p95 === Infinity ? '∞' : (p95 * scale).toFixed(1)}${unit}` : ''}`;
  }
  console.log(`${m.service.padEnd(14)} ${m.name.padEnd(36)} ${attrs.padEnd(60)} ${value}`);
}

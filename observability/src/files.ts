import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ExportResultCode, hrTimeToMicroseconds, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { AggregationTemporality, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

/** One span as a line of the local trace file (what `npm run trace` reads). */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  service: string;
  /** epoch microseconds */
  start: number;
  durationMs: number;
  status: { code: number; message?: string };
  attributes: Record<string, unknown>;
  events?: { name: string; time: number; attributes?: Record<string, unknown> }[];
  links?: { traceId: string; spanId: string }[];
}

export function toSpanRecord(span: ReadableSpan): SpanRecord {
  const sc = span.spanContext();
  const parent = span.parentSpanContext?.spanId;
  return {
    traceId: sc.traceId,
    spanId: sc.spanId,
    ...(parent ? { parentSpanId: parent } : {}),
    name: span.name,
    kind: span.kind,
    service: String(span.resource.attributes['service.name'] ?? 'unknown'),
    start: hrTimeToMicroseconds(span.startTime),
    durationMs: Math.round((hrTimeToMicroseconds(span.duration) / 1000) * 100) / 100,
    status: { code: span.status.code, ...(span.status.message ? { message: span.status.message } : {}) },
    attributes: { ...span.attributes },
    ...(span.events.length > 0
      ? { events: span.events.map((e) => ({ name: e.name, time: hrTimeToMicroseconds(e.time), ...(e.attributes ? { attributes: { ...e.attributes } } : {}) })) }
      : {}),
    ...(span.links.length > 0 ? { links: span.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })) } : {}),
  };
}

/**
 * Local span export: appends JSON lines to a file every service of the local stack shares (appends of
 * one line are atomic enough for this; each batch is one write).
 */
export class JsonlSpanExporter implements SpanExporter {
  constructor(private readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
  }
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    try {
      appendFileSync(this.file, spans.map((s) => JSON.stringify(toSpanRecord(s))).join('\n') + '\n');
      done({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      done({ code: ExportResultCode.FAILED, error: error as Error });
    }
  }
  async shutdown(): Promise<void> {}
  async forceFlush(): Promise<void> {}
}

/** Local metric export: one JSON line per data point, readable with `npm run metrics`. */
export class JsonlMetricExporter implements PushMetricExporter {
  constructor(private readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
  }
  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    const service = String(metrics.resource.attributes['service.name'] ?? 'unknown');
    const lines: string[] = [];
    for (const scope of metrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        for (const point of metric.dataPoints as { attributes: Record<string, unknown>; endTime: [number, number]; value: unknown }[]) {
          lines.push(
            JSON.stringify({
              time: new Date(hrTimeToMicroseconds(point.endTime) / 1000).toISOString(),
              service,
              name: metric.descriptor.name,
              unit: metric.descriptor.unit,
              attributes: point.attributes,
              value: point.value,
            }),
          );
        }
      }
    }
    try {
      if (lines.length > 0) appendFileSync(this.file, lines.join('\n') + '\n');
      done({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      done({ code: ExportResultCode.FAILED, error: error as Error });
    }
  }
  selectAggregationTemporality(): AggregationTemporality {
    return AggregationTemporality.CUMULATIVE;
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

import { context, trace, isSpanContextValid, type SpanContext } from '@opentelemetry/api';
import { RPCType, getRPCMetadata } from '@opentelemetry/core';

/** X-Ray's form of a W3C trace id: `1-<8 hex epoch seconds>-<24 hex>`. */
export function toXrayTraceId(traceId: string): string {
  return `1-${traceId.slice(0, 8)}-${traceId.slice(8)}`;
}

export function activeSpanContext(): SpanContext | undefined {
  const span = trace.getSpan(context.active());
  const sc = span?.spanContext();
  return sc && isSpanContextValid(sc) ? sc : undefined;
}

/** `00-<trace>-<span>-<flags>` for the active span, if any. */
export function activeTraceparent(): string | undefined {
  const sc = activeSpanContext();
  if (!sc) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/**
 * Names the route of the HTTP request being served (`/api/public/videos/:video_id/vote`) on its server
 * span, as the Koa instrumentation does for the requests Koa routes: for one answered before Koa.
 */
export function setActiveHttpRoute(route: string): void {
  const metadata = getRPCMetadata(context.active());
  if (metadata?.type === RPCType.HTTP) metadata.route = route;
}

import { metrics, type Attributes } from '@opentelemetry/api';
import type Koa from 'koa';

/** The platform's instruments (no-ops until the observability SDK is started by the preload). */
const meter = () => metrics.getMeter('@anb/platform');

/** Rate, latency and errors per route: one histogram, its count is the rate, its status attribute the errors. */
export function httpMetrics(): Koa.Middleware {
  const record = requestDurations();
  return async (ctx, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const route = (ctx as { _matchedRoute?: string })._matchedRoute;
      record(ctx.method, typeof route === 'string' ? route : 'unmatched', ctx.status, (performance.now() - started) / 1000);
    }
  };
}

/** Records one request in `http.server.request.duration` (also for requests served before the middleware). */
export function requestDurations(): (method: string, route: string, status: number, seconds: number) => void {
  const duration = meter().createHistogram('http.server.request.duration', {
    unit: 's',
    description: 'Duration of HTTP requests by route and status',
    advice: { explicitBucketBoundaries: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] },
  });
  return (method, route, status, seconds) => {
    const attributes: Attributes = { 'http.request.method': method, 'http.route': route, 'http.response.status_code': status };
    duration.record(seconds, attributes);
  };
}

/** A gauge read when metrics are collected (relay lag, queue depth…). */
export function observeGauge(name: string, description: string, unit: string, read: () => { value: number; attributes?: Attributes }[]): void {
  meter()
    .createObservableGauge(name, { description, unit })
    .addCallback((result) => {
      for (const { value, attributes } of read()) result.observe(value, attributes);
    });
}

export function counter(name: string, description: string, unit = '1') {
  return meter().createCounter(name, { description, unit });
}

export function histogram(name: string, description: string, unit: string, boundaries?: number[]) {
  return meter().createHistogram(name, { description, unit, ...(boundaries ? { advice: { explicitBucketBoundaries: boundaries } } : {}) });
}

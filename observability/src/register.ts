/**
 * Preloaded into every service with `node --import @anb/observability/register …`: registers the ESM
 * loader hook (koa 3 and other ESM packages are patched through it) and starts OpenTelemetry before
 * any instrumented module loads. Configuration comes from the environment:
 *   OTEL_SERVICE_NAME                 the service (required for useful traces; the stack sets it)
 *   OTEL_EXPORTER_OTLP_ENDPOINT       a collector (the ADOT sidecar); otherwise local files
 *   ANB_TELEMETRY_DIR                 where local spans.jsonl / metrics.jsonl go (default .traces/)
 *   OTEL_SDK_DISABLED=true            no telemetry at all
 */
import { register } from 'node:module';
import { startTelemetry } from './telemetry';

if (process.env.OTEL_SDK_DISABLED !== 'true') {
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const sdk = startTelemetry({
    serviceName: process.env.OTEL_SERVICE_NAME ?? 'anb-service',
    ...(process.env.SERVICE_VERSION ? { serviceVersion: process.env.SERVICE_VERSION } : {}),
    environment: process.env.NODE_ENV ?? 'development',
    ...(process.env.OTEL_EXPORTER_OTLP_ENDPOINT ? { otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/$/, '') } : {}),
    ...(process.env.ANB_TELEMETRY_DIR ? { localDir: process.env.ANB_TELEMETRY_DIR } : {}),
    ...(process.env.OTEL_METRIC_EXPORT_INTERVAL ? { metricIntervalMs: Number(process.env.OTEL_METRIC_EXPORT_INTERVAL) } : {}),
  });
  // flush what is buffered when the service stops (its own SIGTERM handler exits after this runs)
  const flush = () => void sdk.shutdown().catch(() => {});
  process.once('beforeExit', flush);
  globalThis.__anbTelemetry = sdk;
}

declare global {
  // eslint-disable-next-line no-var
  var __anbTelemetry: { shutdown(): Promise<void> } | undefined;
}

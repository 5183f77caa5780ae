import { join } from 'node:path';
import { SpanKind, type Attributes, type Context, type Link } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { AWSXRayIdGenerator } from '@opentelemetry/id-generator-aws-xray';
import { AWSXRayPropagator } from '@opentelemetry/propagator-aws-xray';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { KoaInstrumentation } from '@opentelemetry/instrumentation-koa';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  SamplingDecision,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/sdk-trace-base';
import { JsonlMetricExporter, JsonlSpanExporter } from './files';

export interface TelemetryOptions {
  serviceName: string;
  serviceVersion?: string;
  environment?: string;
  /** OTLP/HTTP endpoint of a collector (the ADOT sidecar in production) */
  otlpEndpoint?: string;
  /** without an OTLP endpoint: spans and metrics go to JSONL files in this folder */
  localDir?: string;
  metricIntervalMs?: number;
}

/**
 * Outbound calls that nothing asked for (polling a queue, a heartbeat, a relay round) would each start a
 * trace of their own and drown the real journeys; without a parent they are not recorded. Requests,
 * consumed messages and published events always are.
 */
export class BackgroundNoiseSampler implements Sampler {
  shouldSample(_context: Context, _traceId: string, _name: string, kind: SpanKind, attributes: Attributes, _links: Link[]): SamplingResult {
    const polling = attributes['rpc.method'] === 'ReceiveMessage';
    return { decision: kind === SpanKind.CLIENT || polling ? SamplingDecision.NOT_RECORD : SamplingDecision.RECORD_AND_SAMPLED };
  }
  toString(): string {
    return 'BackgroundNoiseSampler';
  }
}

/**
 * OpenTelemetry for one service: X-Ray-compatible trace ids (epoch seconds first), W3C + X-Ray
 * propagation, instrumentations for http, koa (routes only), pg (inside traces only) and the AWS SDK.
 * Spans and metrics go over OTLP when an endpoint is set, else to local JSONL files.
 */
export function startTelemetry(options: TelemetryOptions): NodeSDK {
  const resource = resourceFromAttributes({
    'service.name': options.serviceName,
    'service.namespace': 'anb-rising-stars',
    ...(options.serviceVersion ? { 'service.version': options.serviceVersion } : {}),
    ...(options.environment ? { 'deployment.environment.name': options.environment } : {}),
  });
  const local = options.otlpEndpoint ? undefined : (options.localDir ?? join(process.cwd(), '.traces'));
  const spanExporter = local ? new JsonlSpanExporter(join(local, 'spans.jsonl')) : new OTLPTraceExporter({ url: `${options.otlpEndpoint}/v1/traces` });
  const metricExporter = local ? new JsonlMetricExporter(join(local, 'metrics.jsonl')) : new OTLPMetricExporter({ url: `${options.otlpEndpoint}/v1/metrics` });
  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    idGenerator: new AWSXRayIdGenerator(),
    textMapPropagator: new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator(), new AWSXRayPropagator()],
    }),
    sampler: new ParentBasedSampler({ root: new BackgroundNoiseSampler() }),
    spanProcessors: [new BatchSpanProcessor(spanExporter, { scheduledDelayMillis: local ? 200 : 1000 })],
    metricReaders: [new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: options.metricIntervalMs ?? 10_000 })],
    instrumentations: [
      new HttpInstrumentation({
        // a batch of calls from the gateway (/internal/…) is not one request's work: each call gets its
        // own span in its client's trace (platform's batchRoute), and the batch makes no trace of its own
        ignoreIncomingRequestHook: (req) => req.url === '/health' || (req.url ?? '').startsWith('/api/docs/') || (req.url ?? '').startsWith('/internal/'),
      }),
      new KoaInstrumentation({ ignoreLayersType: ['middleware' as never] }),
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
      new AwsInstrumentation({ suppressInternalInstrumentation: true }),
    ],
  });
  sdk.start();
  return sdk;
}

import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace, type Span } from '@opentelemetry/api';
import type { Logger } from '@anb/observability';
import { defaultRelayParallelBatches } from '../config';
import type { EventStore } from '../eventstore/store';
import type { GlobalCheckpoint, RecordedEvent } from '../eventstore/types';
import { toEnvelope } from './envelope';
import type { PublishEntry, SnsBatchPublisher } from './snsPublish';
import { StoreSubscription, type SubscriptionRoundResult } from './subscription';
import { donePrefixLength, planWaves } from './waves';

export interface RelayOptions {
  store: EventStore;
  /** a connection string for the dedicated LISTEN connection that also holds the leader lock */
  databaseUrl: string;
  /** PublishBatch to SNS (QuerySnsPublisher in the services) */
  publisher: SnsBatchPublisher;
  topicArn: string;
  /** CloudEvents source, `anb.<service>` */
  source: string;
  /** the public event types; the store's other (private) events are never published */
  publishes: readonly string[];
  logger: Logger;
  /** checkpoint name, so a store could feed several destinations */
  name?: string;
  /** events read per round */
  readLimit?: number;
  /** PublishBatch calls in flight at once (within one wave) */
  parallelBatches?: number;
  /** after a round that was not a full read, the next starts at least this long after it (see StoreSubscription) */
  minRoundIntervalMs?: number;
  /** fallback poll when no NOTIFY arrives (missed while reconnecting, say) */
  pollIntervalMs?: number;
}

export interface RelayStatus {
  leader: boolean;
  checkpoint: GlobalCheckpoint;
  published: number;
  lastPublishedAt?: Date;
  lastError?: string;
  consecutiveFailures: number;
}

const tracer = trace.getTracer('@anb/platform/relay');

/**
 * The outbox relay: publishes committed events of a store to the service's SNS topic, in order per
 * stream, in batches, at least once. It is a store subscription, so the checkpoint is stored in the
 * same database and only moves past events SNS accepted: a crash or restart never loses or reorders
 * anything (it may repeat the last batch; consumers' inboxes absorb duplicates). Only one relay per
 * store is active: the leader holds an advisory lock on its LISTEN connection; others stand by.
 */
export class OutboxRelay {
  private readonly parallelBatches: number;
  private readonly subscription: StoreSubscription;

  constructor(private readonly options: RelayOptions) {
    this.parallelBatches = options.parallelBatches ?? defaultRelayParallelBatches;
    this.subscription = new StoreSubscription({
      store: options.store,
      databaseUrl: options.databaseUrl,
      name: options.name ?? 'sns',
      logger: options.logger,
      types: options.publishes,
      readLimit: options.readLimit ?? 200,
      pollIntervalMs: options.pollIntervalMs ?? 2000,
      minRoundIntervalMs: options.minRoundIntervalMs ?? 0,
      handle: (events) => this.publish(events),
    });
  }

  status(): RelayStatus {
    const s = this.subscription.status();
    return {
      leader: s.leader,
      checkpoint: s.checkpoint,
      published: s.handled,
      ...(s.lastHandledAt ? { lastPublishedAt: s.lastHandledAt } : {}),
      ...(s.lastError ? { lastError: s.lastError } : {}),
      consecutiveFailures: s.consecutiveFailures,
    };
  }

  start(): void {
    this.subscription.start();
  }

  stop(): Promise<void> {
    return this.subscription.stop();
  }

  /** Publishes everything currently committed; returns how many events were read. For tests and tools. */
  drain(): Promise<number> {
    return this.subscription.drain();
  }

  /** Publishes in waves (a stream's events never share one); reports the leading events SNS took. */
  private async publish(events: readonly RecordedEvent[]): Promise<SubscriptionRoundResult> {
    const done = new Set<string>();
    let error: Error | undefined;
    for (const wave of planWaves(events, 10)) {
      const results = await mapLimit(wave, this.parallelBatches, (batch) => this.publishBatch(batch));
      for (const result of results) for (const id of result.succeeded) done.add(id);
      const failed = results.flatMap((r) => r.failed);
      if (failed.length > 0) {
        error = new Error(`SNS refused ${failed.length} event(s): ${failed.slice(0, 3).join('; ')}`);
        break;
      }
    }
    return { done: donePrefixLength(events, (e) => done.has(e.eventId)), ...(error ? { error } : {}) };
  }

  private async publishBatch(batch: readonly RecordedEvent[]): Promise<{ succeeded: string[]; failed: string[] }> {
    const spans: Span[] = [];
    const topic = topicName(this.options.topicArn);
    const entries: PublishEntry[] = batch.map((event, i) => {
      // the publish span continues the trace of the work that recorded the event
      const { traceparent, tracestate } = event.metadata;
      const parent = traceparent ? propagation.extract(ROOT_CONTEXT, tracestate ? { traceparent, tracestate } : { traceparent }) : ROOT_CONTEXT;
      const span = tracer.startSpan(`${topic} publish`, { kind: SpanKind.PRODUCER }, parent);
      // (with telemetry off the span records nothing: its attributes are not even written out)
      if (span.isRecording()) {
        span.setAttributes({
          'messaging.system': 'aws_sns',
          'messaging.operation.type': 'publish',
          'messaging.destination.name': topic,
          'messaging.message.id': event.eventId,
          'anb.event.type': event.type,
          'anb.event.stream': event.streamId,
          'anb.event.position': event.position,
        });
      }
      spans.push(span);
      const carrier: Record<string, string> = {};
      propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
      const traceContext = {
        traceparent: carrier.traceparent ?? event.metadata.traceparent,
        tracestate: carrier.tracestate ?? event.metadata.tracestate,
      };
      const envelope = toEnvelope(event, this.options.source, traceContext);
      const attributes: Record<string, string> = { type: event.type, source: this.options.source };
      if (traceContext.traceparent) attributes.traceparent = traceContext.traceparent;
      if (traceContext.tracestate) attributes.tracestate = traceContext.tracestate;
      return { id: String(i), message: JSON.stringify(envelope), attributes };
    });
    const succeeded: string[] = [];
    const failed: string[] = [];
    try {
      const out = await this.options.publisher.publishBatch(this.options.topicArn, entries);
      for (const ok of out.successful) {
        const i = Number(ok.id);
        succeeded.push(batch[i]!.eventId);
        spans[i]?.setAttribute('messaging.sns.message_id', ok.messageId);
      }
      for (const bad of out.failed) {
        const i = Number(bad.id);
        failed.push(`${batch[i]?.type} ${batch[i]?.eventId}: ${bad.code} ${bad.message}`);
        spans[i]?.setStatus({ code: SpanStatusCode.ERROR, message: `${bad.code}: ${bad.message}` });
      }
    } catch (error) {
      for (const span of spans) span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      failed.push(...batch.map((e) => `${e.type} ${e.eventId}: ${(error as Error).message}`));
    } finally {
      for (const span of spans) span.end();
    }
    return { succeeded, failed };
  }
}

function topicName(arn: string): string {
  return arn.split(':').at(-1) ?? arn;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return results;
}


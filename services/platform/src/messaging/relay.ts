
import { PublishBatchCommand, type PublishBatchRequestEntry, type SNSClient } from '@aws-sdk/client-sns';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Span } from '@opentelemetry/api';
import type { Logger } from '@anb/observability';
import pg from 'pg';
import type { EventStore } from '../eventstore/store';
import { notifyChannel } from '../eventstore/schema';
import { startOfStore, type GlobalCheckpoint, type RecordedEvent } from '../eventstore/types';
import { toEnvelope } from './envelope';
import { donePrefixLength, planWaves } from './waves';

export interface RelayOptions {
  store: EventStore;
  /** a connection string for the dedicated LISTEN connection that also holds the leader lock */
  databaseUrl: string;
  sns: SNSClient;
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
 * stream, in batches, at least once. The checkpoint is stored in the same database and only moves
 * past events SNS accepted, so a crash or restart never loses or reorders anything (it may repeat
 * the last batch; consumers' inboxes absorb duplicates). Only one relay per store is active: the
 * leader holds an advisory lock on its LISTEN connection; others stand by.
 */
export class OutboxRelay {
  private readonly name: string;
  private readonly readLimit: number;
  private readonly parallelBatches: number;
  private readonly pollIntervalMs: number;
  private listener: pg.Client | undefined;
  private running = false;
  private loopDone: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private woken = false;
  private readonly status_: RelayStatus = { leader: false, checkpoint: startOfStore, published: 0, consecutiveFailures: 0 };

  constructor(private readonly options: RelayOptions) {
    this.name = options.name ?? 'sns';
    this.readLimit = options.readLimit ?? 200;
    this.parallelBatches = options.parallelBatches ?? 4;
    this.pollIntervalMs = options.pollIntervalMs ?? 2000;
  }

  status(): RelayStatus {
    return { ...this.status_ };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.notify();
    await this.loopDone;
    await this.closeListener();
  }

  /** Publishes everything currently committed; returns how many events were handled. For tests and tools. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.publishRound();
      total += n;
      if (n === 0) return total;
    }
  }

  private notify(): void {
    this.woken = true;
    this.wake?.();
  }

  private async waitForWake(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
    this.woken = false;
  }

  private async loop(): Promise<void> {
    const log = this.options.logger;
    while (this.running) {
      if (!this.status_.leader) {
        try {
          await this.becomeLeader();
        } catch (error) {
          log.warn({ err: error }, 'relay: cannot connect its listener; retrying');
          await this.closeListener();
        }
        if (!this.status_.leader) {
          await this.waitForWake(5000);
          continue;
        }
      }
      try {
        const handled = await this.publishRound();
        this.status_.consecutiveFailures = 0;
        delete this.status_.lastError;
        if (handled < this.readLimit) await this.waitForWake(this.pollIntervalMs);
      } catch (error) {
        this.status_.consecutiveFailures++;
        this.status_.lastError = (error as Error).message;
        const delay = Math.min(30_000, 250 * 2 ** Math.min(this.status_.consecutiveFailures, 7));
        log.error({ err: error, retryInMs: delay }, 'relay: publishing failed; will retry from the checkpoint');
        await this.waitForWake(delay);
      }
    }
  }

  private async becomeLeader(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.databaseUrl, application_name: `relay:${this.options.store.schema}` });
    client.on('error', (error) => {
      this.options.logger.warn({ err: error }, 'relay: listener connection lost');
      this.status_.leader = false;
      this.listener = undefined;
      client.end().catch(() => {});
      this.notify();
    });
    await client.connect();
    const lockKey = `relay:${this.options.store.schema}:${this.name}`;
    const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock(hashtext($1)) as locked', [lockKey]);
    if (!rows[0]?.locked) {
      await client.end();
      return;
    }
    client.on('notification', () => this.notify());
    await client.query(`listen "${notifyChannel(this.options.store.schema)}"`);
    this.listener = client;
    this.status_.leader = true;
    this.options.logger.info({ schema: this.options.store.schema }, 'relay: leading; publishing committed events');
  }

  private async closeListener(): Promise<void> {
    const client = this.listener;
    this.listener = undefined;
    this.status_.leader = false;
    if (client) await client.end().catch(() => {});
  }

  private async readCheckpoint(): Promise<GlobalCheckpoint> {
    const row = (await this.options.store
      .db(`${this.options.store.schema}.relay_checkpoints`)
      .where({ name: this.name })
      .first('transaction_id', 'position')) as { transaction_id: string; position: number } | undefined;
    return row ? { transactionId: row.transaction_id, position: row.position } : startOfStore;
  }

  private async saveCheckpoint(checkpoint: GlobalCheckpoint): Promise<void> {
    await this.options.store.db.raw(
      `insert into ??.relay_checkpoints (name, transaction_id, position, updated_at) values (?, ?::xid8, ?, now())
       on conflict (name) do update set transaction_id = excluded.transaction_id, position = excluded.position, updated_at = now()`,
      [this.options.store.schema, this.name, checkpoint.transactionId, checkpoint.position],
    );
    this.status_.checkpoint = checkpoint;
  }

  /** One round: read after the checkpoint, publish, move the checkpoint past what SNS accepted. */
  private async publishRound(): Promise<number> {
    const after = await this.readCheckpoint();
    const events = await this.options.store.readAll({ after, limit: this.readLimit });
    if (events.length === 0) return 0;
    const publishable = events.filter((e) => this.options.publishes.includes(e.type));
    const done = new Set<string>(events.filter((e) => !this.options.publishes.includes(e.type)).map((e) => e.eventId));
    let failure: Error | undefined;
    for (const wave of planWaves(publishable, 10)) {
      const results = await mapLimit(wave, this.parallelBatches, (batch) => this.publishBatch(batch));
      for (const result of results) for (const id of result.succeeded) done.add(id);
      const failed = results.flatMap((r) => r.failed);
      if (failed.length > 0) {
        failure = new Error(`SNS refused ${failed.length} event(s): ${failed.slice(0, 3).join('; ')}`);
        break;
      }
    }
    const n = donePrefixLength(events, (e) => done.has(e.eventId));
    if (n > 0) {
      const last = events[n - 1]!;
      await this.saveCheckpoint({ transactionId: last.transactionId, position: last.position });
      this.status_.published += events.slice(0, n).filter((e) => this.options.publishes.includes(e.type)).length;
      this.status_.lastPublishedAt = new Date();
    }
    if (failure) throw failure;
    return events.length;
  }

  private async publishBatch(batch: readonly RecordedEvent[]): Promise<{ succeeded: string[]; failed: string[] }> {
    const spans: Span[] = [];
    const entries: PublishBatchRequestEntry[] = batch.map((event, i) => {
      // the publish span continues the trace of the work that recorded the event
      const parent = propagation.extract(ROOT_CONTEXT, {
        ...(event.metadata.traceparent ? { traceparent: event.metadata.traceparent } : {}),
        ...(event.metadata.tracestate ? { tracestate: event.metadata.tracestate } : {}),
      });
      const span = tracer.startSpan(
        `${topicName(this.options.topicArn)} publish`,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            'messaging.system': 'aws_sns',
            'messaging.operation.type': 'publish',
            'messaging.destination.name': topicName(this.options.topicArn),
            'messaging.message.id': event.eventId,
            'anb.event.type': event.type,
            'anb.event.stream': event.streamId,
            'anb.event.position': event.position,
          },
        },
        parent,
      );
      spans.push(span);
      const carrier: Record<string, string> = {};
      propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
      const traceContext = {
        traceparent: carrier.traceparent ?? event.metadata.traceparent,
        tracestate: carrier.tracestate ?? event.metadata.tracestate,
      };
      const envelope = toEnvelope(event, this.options.source, traceContext);
      const attributes: PublishBatchRequestEntry['MessageAttributes'] = {
        type: { DataType: 'String', StringValue: event.type },
        source: { DataType: 'String', StringValue: this.options.source },
      };
      if (traceContext.traceparent) attributes.traceparent = { DataType: 'String', StringValue: traceContext.traceparent };
      if (traceContext.tracestate) attributes.tracestate = { DataType: 'String', StringValue: traceContext.tracestate };
      return { Id: String(i), Message: JSON.stringify(envelope), MessageAttributes: attributes };
    });
    const succeeded: string[] = [];
    const failed: string[] = [];
    try {
      const out = await context.with(ROOT_CONTEXT, () =>
        this.options.sns.send(new PublishBatchCommand({ TopicArn: this.options.topicArn, PublishBatchRequestEntries: entries })),
      );
      for (const ok of out.Successful ?? []) {
        const i = Number(ok.Id);
        succeeded.push(batch[i]!.eventId);
        spans[i]?.setAttribute('messaging.sns.message_id', ok.MessageId ?? '');
      }
      for (const bad of out.Failed ?? []) {
        const i = Number(bad.Id);
        failed.push(`${batch[i]?.type} ${batch[i]?.eventId}: ${bad.Code} ${bad.Message ?? ''}`);
        spans[i]?.setStatus({ code: SpanStatusCode.ERROR, message: `${bad.Code}: ${bad.Message ?? ''}` });
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


import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type { Logger } from '@anb/observability';

export interface MessageContext {
  /** aborted when the consumer stops and the grace period is over: stop work, the message goes back */
  readonly signal: AbortSignal;
  /** 1 on the first delivery */
  readonly receiveCount: number;
  readonly messageId: string;
}

export type MessageHandler = (message: Message, ctx: MessageContext) => Promise<void>;

/** Thrown (or wrapped) by a handler when retrying cannot help: the message goes to the DLQ quickly. */
export class PermanentFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentFailure';
  }
}

/**
 * Thrown by a handler that cannot act on the message yet but expects to later (another worker holds
 * the job, say): the message comes back after `retryInSeconds`, logged quietly — it is not a failure.
 */
export class RetryLater extends Error {
  constructor(
    message: string,
    readonly retryInSeconds: number,
  ) {
    super(message);
    this.name = 'RetryLater';
  }
}

export interface QueueConsumerOptions {
  sqs: SQSClient;
  queueUrl: string;
  handler: MessageHandler;
  logger: Logger;
  /** messages handled at once (also the most received at once, capped at 10 per call) */
  concurrency?: number;
  waitTimeSeconds?: number;
  /** the queue's visibility timeout; the heartbeat renews it at half-time while a handler runs */
  visibilityTimeoutSeconds?: number;
  /** retry delay after a failure: base · 2^(receives−1), capped */
  backoff?: { baseSeconds: number; maxSeconds: number };
  /** the message attribute holding the event type, for logs and span names */
  typeAttribute?: string;
}

const tracer = trace.getTracer('@anb/platform/consumer');

/**
 * An SQS consumer: long polling, up to 10 per receive, handlers run concurrently up to a limit, a
 * visibility heartbeat for long handlers, deletion only after success (in batches), exponential backoff
 * after a failure (SQS moves a message to the DLQ after the queue's maxReceiveCount), and a clean
 * stop: no new receives, in-flight work finishes within the grace period or its message is released.
 */
export class QueueConsumer {
  private readonly concurrency: number;
  private readonly waitTimeSeconds: number;
  private readonly visibility: number;
  private readonly backoff: { baseSeconds: number; maxSeconds: number };
  private readonly inFlight = new Map<string, { done: Promise<void>; abort: AbortController; receiptHandle: string }>();
  private running = false;
  private loopDone: Promise<void> | undefined;
  private receiveAbort: AbortController | undefined;
  private slotFreed: (() => void) | undefined;
  private readonly deletes: DeleteBatcher;
  private stats = { received: 0, succeeded: 0, failed: 0 };
  private oldestReceivedAgeMs = 0;

  constructor(private readonly options: QueueConsumerOptions) {
    this.concurrency = Math.max(1, options.concurrency ?? 10);
    this.waitTimeSeconds = options.waitTimeSeconds ?? 20;
    this.visibility = options.visibilityTimeoutSeconds ?? 30;
    this.backoff = options.backoff ?? { baseSeconds: 2, maxSeconds: 300 };
    this.deletes = new DeleteBatcher(options.sqs, options.queueUrl, options.logger);
  }

  get counts(): { received: number; succeeded: number; failed: number; inFlight: number } {
    return { ...this.stats, inFlight: this.inFlight.size };
  }

  /** The age (seconds) of the oldest message received since the last call — how far behind the queue is. */
  takeOldestReceivedAge(): number {
    const age = this.oldestReceivedAgeMs / 1000;
    this.oldestReceivedAgeMs = 0;
    return age;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Stops receiving, waits up to `graceMs` for running handlers, then aborts them and releases their messages. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running && !this.loopDone) return;
    this.running = false;
    this.receiveAbort?.abort();
    this.slotFreed?.();
    await this.loopDone;
    const pending = [...this.inFlight.values()];
    if (pending.length > 0) {
      const settled = Promise.allSettled(pending.map((p) => p.done));
      const timedOut = await Promise.race([settled.then(() => false), delay(graceMs).then(() => true)]);
      if (timedOut) {
        const left = [...this.inFlight.values()];
        this.options.logger.warn({ count: left.length }, 'consumer: grace period over; releasing in-flight messages');
        for (const p of left) p.abort.abort();
        await Promise.allSettled(left.map((p) => this.changeVisibility(p.receiptHandle, 0)));
        await Promise.race([Promise.allSettled(left.map((p) => p.done)), delay(2000)]);
      }
    }
    await this.deletes.flush();
    this.loopDone = undefined;
  }

  private async loop(): Promise<void> {
    let receiveFailures = 0;
    while (this.running) {
      const free = this.concurrency - this.inFlight.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.slotFreed = resolve));
        this.slotFreed = undefined;
        continue;
      }
      this.receiveAbort = new AbortController();
      let messages: Message[] = [];
      try {
        const out = await this.options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.options.queueUrl,
            MaxNumberOfMessages: Math.min(10, free),
            WaitTimeSeconds: this.waitTimeSeconds,
            VisibilityTimeout: this.visibility,
            MessageAttributeNames: ['All'],
            MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
          }),
          { abortSignal: this.receiveAbort.signal },
        );
        messages = out.Messages ?? [];
        receiveFailures = 0;
      } catch (error) {
        if (!this.running) break;
        receiveFailures++;
        const wait = Math.min(30_000, 500 * 2 ** Math.min(receiveFailures, 6));
        this.options.logger.error({ err: error, retryInMs: wait }, 'consumer: receive failed');
        await delay(wait);
        continue;
      }
      for (const message of messages) this.dispatch(message);
    }
  }

  private dispatch(message: Message): void {
    const id = message.MessageId ?? String(Math.random());
    const sent = Number(message.Attributes?.SentTimestamp ?? NaN);
    if (Number.isFinite(sent)) this.oldestReceivedAgeMs = Math.max(this.oldestReceivedAgeMs, Date.now() - sent);
    const abort = new AbortController();
    this.stats.received++;
    const done = this.handle(message, abort.signal).finally(() => {
      this.inFlight.delete(id);
      this.slotFreed?.();
    });
    this.inFlight.set(id, { done, abort, receiptHandle: message.ReceiptHandle! });
  }

  private async handle(message: Message, signal: AbortSignal): Promise<void> {
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? '1');
    const messageId = message.MessageId ?? '';
    const attributes = message.MessageAttributes ?? {};
    const type = attributes[this.options.typeAttribute ?? 'type']?.StringValue;
    const carrier: Record<string, string> = {};
    for (const [key, value] of Object.entries(attributes)) if (value.StringValue) carrier[key] = value.StringValue;
    // the receive call does not parent the work: continue the producer's trace, per message
    const parent = propagation.extract(ROOT_CONTEXT, carrier);
    const producer = trace.getSpanContext(parent);
    const queueName = this.options.queueUrl.split('/').at(-1) ?? 'queue';
    const span = tracer.startSpan(
      `${queueName} process${type ? ` ${type}` : ''}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'aws_sqs',
          'messaging.operation.type': 'process',
          'messaging.destination.name': queueName,
          'messaging.message.id': messageId,
          'messaging.aws.sqs.receive_count': receiveCount,
          ...(type ? { 'anb.event.type': type } : {}),
        },
        ...(producer ? { links: [{ context: producer }] } : {}),
      },
      parent,
    );
    const heartbeat = setInterval(() => {
      this.changeVisibility(message.ReceiptHandle!, this.visibility).catch((error) =>
        this.options.logger.warn({ err: error, messageId }, 'consumer: visibility heartbeat failed'),
      );
    }, Math.max(1000, (this.visibility * 1000) / 2));
    try {
      await context.with(trace.setSpan(parent, span), () => this.options.handler(message, { signal, receiveCount, messageId }));
      clearInterval(heartbeat);
      await this.deletes.delete(message.ReceiptHandle!);
      this.stats.succeeded++;
      span.setStatus({ code: SpanStatusCode.OK });
    } catch (error) {
      clearInterval(heartbeat);
      if (error instanceof RetryLater && !signal.aborted) {
        span.setAttribute('anb.retry_later_seconds', error.retryInSeconds);
        this.options.logger.info({ messageId, type, receiveCount, retryInSeconds: error.retryInSeconds }, `consumer: ${error.message}; retrying later`);
        await this.changeVisibility(message.ReceiptHandle!, Math.max(0, Math.min(43_200, Math.ceil(error.retryInSeconds)))).catch(() => {});
        return;
      }
      this.stats.failed++;
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      if (signal.aborted) return; // released by stop()
      const permanent = error instanceof PermanentFailure;
      const retryIn = permanent ? 0 : this.retryDelaySeconds(receiveCount);
      this.options.logger.error(
        { err: error, messageId, type, receiveCount, retryInSeconds: retryIn, permanent },
        permanent ? 'consumer: message cannot be handled; it will reach the DLQ' : 'consumer: handler failed; message will be retried',
      );
      await this.changeVisibility(message.ReceiptHandle!, retryIn).catch(() => {});
    } finally {
      span.end();
    }
  }

  retryDelaySeconds(receiveCount: number): number {
    const exp = this.backoff.baseSeconds * 2 ** Math.max(0, receiveCount - 1);
    const capped = Math.min(this.backoff.maxSeconds, exp);
    // jitter keeps a burst of failures from retrying in lockstep
    return Math.max(0, Math.round(capped * (0.8 + Math.random() * 0.4)));
  }

  private async changeVisibility(receiptHandle: string, seconds: number): Promise<void> {
    await this.options.sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: this.options.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }),
    );
  }
}

/** Collects deletions for a few milliseconds and sends them as DeleteMessageBatch calls of up to 10. */
class DeleteBatcher {
  private pending: { handle: string; resolve: () => void; reject: (e: Error) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending = Promise.resolve();

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly logger: Logger,
  ) {}

  delete(handle: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ handle, resolve, reject });
      if (this.pending.length >= 10) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), 5);
    });
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, 10);
      this.sending = this.sending.then(() => this.send(batch));
    }
    await this.sending;
  }

  private async send(batch: { handle: string; resolve: () => void; reject: (e: Error) => void }[]): Promise<void> {
    try {
      const out = await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((b, i) => ({ Id: String(i), ReceiptHandle: b.handle })),
        }),
      );
      const failed = new Map((out.Failed ?? []).map((f) => [Number(f.Id), f]));
      batch.forEach((b, i) => {
        const f = failed.get(i);
        if (f) b.reject(new Error(`delete failed: ${f.Code} ${f.Message ?? ''}`));
        else b.resolve();
      });
    } catch (error) {
      this.logger.warn({ err: error }, 'consumer: delete batch failed; messages will be redelivered and deduplicated');
      for (const b of batch) b.reject(error as Error);
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}

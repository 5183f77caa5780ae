import { GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '@anb/observability';
import { observeGauge } from '../metrics';

export interface MonitoredQueue {
  /** for the metric attribute, e.g. `anb-local-catalog` */
  name: string;
  url: string;
  /** a DLQ: its oldest message is found by peeking (nobody consumes it) */
  deadLetter?: boolean;
  /** for a live queue: the age of the oldest message its consumer received lately */
  oldestReceivedAge?: () => number | undefined;
}

/**
 * Queue depth and age of the oldest message, per queue including its DLQ, as metrics — what an
 * operator watches to see a backlog building or anything at all landing in a DLQ. SQS only tells the
 * age of the oldest message through CloudWatch, so here: a DLQ is peeked (visibility 0, it changes
 * nothing that matters), a live queue reports what its consumer saw.
 */
export class QueueMonitor {
  private readonly depth = new Map<string, { visible: number; inFlight: number; delayed: number; oldestAge: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queues: readonly MonitoredQueue[],
    private readonly logger: Logger,
    private readonly intervalMs = 30_000,
  ) {
    observeGauge('anb.queue.messages', 'Messages in a queue by state', '{message}', () =>
      [...this.depth.entries()].flatMap(([queue, d]) => [
        { value: d.visible, attributes: { queue, state: 'visible' } },
        { value: d.inFlight, attributes: { queue, state: 'in_flight' } },
        { value: d.delayed, attributes: { queue, state: 'delayed' } },
      ]),
    );
    observeGauge('anb.queue.oldest_message_age', 'Age of the oldest message in a queue', 's', () =>
      [...this.depth.entries()].map(([queue, d]) => ({ value: d.oldestAge, attributes: { queue } })),
    );
  }

  start(): void {
    const tick = () => void this.refresh().catch((error) => this.logger.debug({ err: error }, 'queue monitor: refresh failed'));
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async refresh(): Promise<void> {
    for (const queue of this.queues) {
      const out = await this.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queue.url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
        }),
      );
      const a = out.Attributes ?? {};
      const visible = Number(a.ApproximateNumberOfMessages ?? 0);
      let oldestAge = queue.oldestReceivedAge?.() ?? 0;
      if (queue.deadLetter && visible > 0) oldestAge = await this.peekOldestAge(queue.url);
      this.depth.set(queue.name, {
        visible,
        inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
        delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
        oldestAge,
      });
      if (queue.deadLetter && visible > 0) {
        this.logger.warn({ queue: queue.name, messages: visible, oldestAgeSeconds: Math.round(oldestAge) }, 'messages waiting in a DLQ');
      }
    }
  }

  private async peekOldestAge(url: string): Promise<number> {
    const out = await this.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 0, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['SentTimestamp'] }),
    );
    const sent = (out.Messages ?? []).map((m) => Number(m.Attributes?.SentTimestamp ?? Date.now()));
    return sent.length > 0 ? (Date.now() - Math.min(...sent)) / 1000 : 0;
  }
}

/** The queue's name from its URL (`…/000000000000/anb-local-catalog` → `anb-local-catalog`). */
export function queueName(url: string): string {
  return url.split('/').at(-1) ?? url;
}

/** Watches a consumer's queue and its DLQ (when known); started, stop it on shutdown. */
export function watchQueues(
  sqs: SQSClient,
  queues: { queueUrl: string; dlqUrl?: string | undefined; consumer: { takeOldestReceivedAge(): number } },
  logger: Logger,
): QueueMonitor {
  const monitor = new QueueMonitor(
    sqs,
    [
      { name: queueName(queues.queueUrl), url: queues.queueUrl, oldestReceivedAge: () => queues.consumer.takeOldestReceivedAge() },
      ...(queues.dlqUrl ? [{ name: queueName(queues.dlqUrl), url: queues.dlqUrl, deadLetter: true }] : []),
    ],
    logger,
  );
  monitor.start();
  return monitor;
}

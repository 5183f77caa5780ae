import { topicOfProducer, type ServiceName } from '@anb/contracts';
import type { Logger } from '@anb/observability';
import type { Knex } from 'knex';
import { createSnsClient, createSqsClient, type AwsSettings } from './aws';
import { defaultRelayMinRoundMs, defaultRelayParallelBatches } from './config';
import { createDatabase, migrate, type Migration } from './db';
import type { EventStore } from './eventstore/store';
import type { Lifecycle } from './lifecycle';
import { QueueConsumer, type QueueConsumerOptions } from './messaging/consumer';
import { watchQueues } from './messaging/queueMonitor';
import { OutboxRelay } from './messaging/relay';
import { QuerySnsPublisher } from './messaging/snsPublish';

/**
 * The pieces every event-sourced service starts the same way, each registering its own stop with the
 * lifecycle — so a service's main.ts stays a table of contents of what is particular to it.
 */

/** The service's database, migrated to its latest schema; closed last on shutdown. */
export async function openDatabase(options: {
  service: ServiceName;
  config: { DATABASE_URL: string; DATABASE_POOL_MAX: number; DATABASE_PREPARE_HOT?: boolean };
  schema: string;
  migrations: readonly Migration[];
  lifecycle: Lifecycle;
}): Promise<Knex> {
  const db = createDatabase({
    url: options.config.DATABASE_URL,
    poolMax: options.config.DATABASE_POOL_MAX,
    applicationName: options.service,
    prepareHotStatements: options.config.DATABASE_PREPARE_HOT !== false,
  });
  options.lifecycle.onStop('database', () => db.destroy());
  await migrate(db, options.schema, options.migrations);
  return db;
}

/** The outbox relay publishing the service's public events to its own topic. */
export function startOutboxRelay(options: {
  service: ServiceName;
  store: EventStore;
  config: AwsSettings & { DATABASE_URL: string; EVENTS_TOPIC_ARN: string; RELAY_PARALLEL_BATCHES?: number; RELAY_SNS_PIPELINING?: number; RELAY_MIN_ROUND_MS?: number };
  logger: Logger;
  lifecycle: Lifecycle;
}): OutboxRelay {
  const { service, config, lifecycle } = options;
  // the SDK client resolves endpoint, region and credentials (and refreshes them); the calls are lean
  const sns = createSnsClient(config);
  const parallelBatches = config.RELAY_PARALLEL_BATCHES ?? defaultRelayParallelBatches;
  const publisher = new QuerySnsPublisher(sns, { connections: Math.max(16, parallelBatches), pipelining: config.RELAY_SNS_PIPELINING ?? 1 });
  lifecycle.onStop('sns', async () => {
    await publisher.close();
    sns.destroy();
  });
  const relay = new OutboxRelay({
    store: options.store,
    databaseUrl: config.DATABASE_URL,
    publisher,
    topicArn: config.EVENTS_TOPIC_ARN,
    source: `anb.${service}`,
    publishes: topicOfProducer(service)?.events ?? [],
    logger: options.logger,
    parallelBatches,
    minRoundIntervalMs: config.RELAY_MIN_ROUND_MS ?? defaultRelayMinRoundMs,
  });
  relay.start();
  lifecycle.onStop('relay', () => relay.stop());
  return relay;
}

/** The consumer of the service's own queue, with its queue and DLQ watched for depth and age. */
export function startQueueConsumer(
  options: {
    config: AwsSettings & { EVENTS_QUEUE_URL: string; EVENTS_DLQ_URL?: string | undefined };
    logger: Logger;
    lifecycle: Lifecycle;
    /** how long running handlers may finish after SIGTERM before their messages are released */
    graceMs: number;
  } & Omit<QueueConsumerOptions, 'sqs' | 'queueUrl' | 'logger'>,
): QueueConsumer {
  const { config, logger, lifecycle, graceMs, ...consumerOptions } = options;
  const sqs = createSqsClient(config);
  lifecycle.onStop('sqs', () => sqs.destroy());
  const consumer = new QueueConsumer({ ...consumerOptions, sqs, queueUrl: config.EVENTS_QUEUE_URL, logger });
  consumer.start();
  lifecycle.onStop('consumer', () => consumer.stop(graceMs));
  const queues = watchQueues(sqs, { queueUrl: config.EVENTS_QUEUE_URL, dlqUrl: config.EVENTS_DLQ_URL, consumer }, logger);
  lifecycle.onStop('queue monitor', () => queues.stop());
  return consumer;
}

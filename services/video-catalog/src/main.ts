import { topicOfProducer } from '@anb/contracts';
import { createLogger } from '@anb/observability';
import {
  EventStore,
  Lifecycle,
  OutboxRelay,
  QueueConsumer,
  createDatabase,
  createHttpApp,
  createSnsClient,
  createSqsClient,
  databaseCheck,
  inboxHandler,
  inlineProjectionOf,
  migrate,
  packageVersion,
  relayCheck,
  runMain,
  startHttpServer,
  watchQueues,
} from '@anb/platform';
import { catalogRoutes } from './api';
import { loadCatalogConfig } from './config';
import { catalogHandlers } from './consumers';
import { filesCleanup } from './filesCleanup';
import { catalogMigrations } from './migrations';
import { VideoFiles, createS3Client } from './storage';
import { catalogSchema, videosProjection } from './videos/videosProjection';

const service = 'video-catalog';

await runMain(service, async () => {
  const config = loadCatalogConfig();
  const version = packageVersion(import.meta.url);
  const logger = createLogger({ service, level: config.LOG_LEVEL, version });
  const lifecycle = new Lifecycle(logger, config.SHUTDOWN_GRACE_SECONDS * 1000);
  lifecycle.installSignalHandlers();

  const db = createDatabase({ url: config.DATABASE_URL, poolMax: config.DATABASE_POOL_MAX, applicationName: service });
  lifecycle.onStop('database', () => db.destroy());
  await migrate(db, catalogSchema, catalogMigrations);

  const store = new EventStore(db, catalogSchema, { inlineProjections: [inlineProjectionOf(videosProjection)], serviceActor: `service:${service}` });
  const s3 = createS3Client(config);
  lifecycle.onStop('s3', () => s3.destroy());
  const files = new VideoFiles(s3, config.VIDEOS_BUCKET, config.SIGNED_URL_SECONDS);

  const sns = createSnsClient(config);
  lifecycle.onStop('sns', () => sns.destroy());
  const relay = new OutboxRelay({
    store,
    databaseUrl: config.DATABASE_URL,
    sns,
    topicArn: config.EVENTS_TOPIC_ARN,
    source: `anb.${service}`,
    publishes: topicOfProducer(service)!.events,
    logger,
  });
  relay.start();
  lifecycle.onStop('relay', () => relay.stop());

  const cleanup = filesCleanup({ store, databaseUrl: config.DATABASE_URL, files, logger });
  cleanup.start();
  lifecycle.onStop('files cleanup', () => cleanup.stop());

  const sqs = createSqsClient(config);
  lifecycle.onStop('sqs', () => sqs.destroy());
  const consumer = new QueueConsumer({
    sqs,
    queueUrl: config.EVENTS_QUEUE_URL,
    logger,
    concurrency: config.CONSUMER_CONCURRENCY,
    handler: inboxHandler({ db, schema: catalogSchema, projections: [videosProjection], handlers: catalogHandlers(store), logger }),
  });
  consumer.start();
  lifecycle.onStop('consumer', () => consumer.stop(config.SHUTDOWN_GRACE_SECONDS * 1000 - 1000));
  const queues = watchQueues(sqs, { queueUrl: config.EVENTS_QUEUE_URL, dlqUrl: config.EVENTS_DLQ_URL, consumer }, logger);
  lifecycle.onStop('queue monitor', () => queues.stop());

  const app = createHttpApp({
    service,
    version,
    logger,
    router: catalogRoutes({ db, store, files }),
    health: [databaseCheck(db), { name: 'storage', check: () => files.check() }, relayCheck(relay)],
  });
  const server = await startHttpServer(app, { port: config.PORT, host: config.HOST });
  lifecycle.onStop('http', () => server.close());
  logger.info({ port: server.port }, 'video-catalog ready');
});

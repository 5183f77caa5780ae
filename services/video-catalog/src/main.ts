import {
  EventStore,
  createHttpApp,
  databaseCheck,
  inboxHandler,
  inlineProjectionOf,
  openDatabase,
  relayCheck,
  runMain,
  serviceRuntime,
  startHttpServer,
  startOutboxRelay,
  startQueueConsumer,
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
  const { version, logger, lifecycle } = serviceRuntime(service, import.meta.url, config);

  const db = await openDatabase({ service, config, schema: catalogSchema, migrations: catalogMigrations, lifecycle });

  const store = new EventStore(db, catalogSchema, { inlineProjections: [inlineProjectionOf(videosProjection)], serviceActor: `service:${service}` });
  const s3 = createS3Client(config);
  lifecycle.onStop('s3', () => s3.destroy());
  const files = new VideoFiles(s3, config.VIDEOS_BUCKET, config.SIGNED_URL_SECONDS);

  const relay = startOutboxRelay({ service, store, config, logger, lifecycle });

  const cleanup = filesCleanup({ store, databaseUrl: config.DATABASE_URL, files, logger });
  cleanup.start();
  lifecycle.onStop('files cleanup', () => cleanup.stop());

  startQueueConsumer({
    config,
    logger,
    lifecycle,
    graceMs: config.SHUTDOWN_GRACE_SECONDS * 1000 - 1000,
    concurrency: config.CONSUMER_CONCURRENCY,
    handler: inboxHandler({ db, schema: catalogSchema, projections: [videosProjection], handlers: catalogHandlers(store), logger }),
  });

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

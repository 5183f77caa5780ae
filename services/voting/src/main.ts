import { S3Client } from '@aws-sdk/client-s3';
import {
  EventStore,
  ProjectionSubscriber,
  awsClientConfig,
  createHttpApp,
  databaseCheck,
  inboxHandler,
  openDatabase,
  relayCheck,
  runMain,
  serviceRuntime,
  startHttpServer,
  startOutboxRelay,
  startQueueConsumer,
  subscriberCheck,
} from '@anb/platform';
import { votingRoutes } from './api';
import { loadVotingConfig } from './config';
import { votingMigrations, votingSchema } from './migrations';
import { projections } from './projections';
import { SignedUrls } from './showcase/signedUrls';

const service = 'voting';

await runMain(service, async () => {
  const config = loadVotingConfig();
  const { version, logger, lifecycle } = serviceRuntime(service, import.meta.url, config);

  const db = await openDatabase({ service, config, schema: votingSchema, migrations: votingMigrations, lifecycle });

  // votes: one stream per voter and video; no inline projections — the read models take VoteCast
  // after commit, in batches, so voters never wait on a hot ranking row
  const store = new EventStore(db, votingSchema, { serviceActor: `service:${service}` });

  const subscriber = new ProjectionSubscriber({ db, databaseUrl: config.DATABASE_URL, schema: votingSchema, projections, logger });
  subscriber.start();
  lifecycle.onStop('projection subscriber', () => subscriber.stop());

  const relay = startOutboxRelay({ service, store, config, logger, lifecycle });

  startQueueConsumer({
    config,
    logger,
    lifecycle,
    graceMs: config.SHUTDOWN_GRACE_SECONDS * 1000 - 1000,
    concurrency: config.CONSUMER_CONCURRENCY,
    handler: inboxHandler({ db, schema: votingSchema, projections, logger }),
  });

  const s3 = new S3Client({ ...awsClientConfig(config), ...(config.AWS_ENDPOINT_URL ? { forcePathStyle: true } : {}) });
  lifecycle.onStop('s3', () => s3.destroy());
  const app = createHttpApp({
    service,
    version,
    logger,
    router: votingRoutes({
      db,
      store,
      signedUrls: new SignedUrls(s3, config.VIDEOS_BUCKET, config.SIGNED_URL_TTL_SECONDS),
      publicCacheMs: config.PUBLIC_CACHE_MS,
      logger,
    }),
    health: [databaseCheck(db), relayCheck(relay), subscriberCheck(subscriber)],
  });
  const server = await startHttpServer(app, { port: config.PORT, host: config.HOST });
  lifecycle.onStop('http', () => server.close());
  logger.info({ port: server.port }, 'voting ready');
});

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createLogger } from '@anb/observability';
import {
  Lifecycle,
  QueueConsumer,
  Router,
  awsClientConfig,
  createHttpApp,
  createSnsClient,
  createSqsClient,
  packageVersion,
  runMain,
  startHttpServer,
  watchQueues,
} from '@anb/platform';
import { mediaBinary } from '@anb/platform/media';
import { loadProcessingConfig } from './config';
import { ProcessingEventPublisher } from './events';
import { jobLedgerCheck, videosBucketCheck } from './health';
import { JobLedger } from './ledger';
import { createS3Client, VideoFiles } from './videos';
import { ProcessingWorker, workerSettings } from './worker';

const service = 'processing';

await runMain(service, async () => {
  const config = loadProcessingConfig();
  const version = packageVersion(import.meta.url);
  const logger = createLogger({ service, level: config.LOG_LEVEL, version });
  const graceMs = config.SHUTDOWN_GRACE_SECONDS * 1000;
  const lifecycle = new Lifecycle(logger, graceMs);
  lifecycle.installSignalHandlers();

  // fail at start-up, not at the first job, when there is no ffmpeg to run
  const ffmpeg = mediaBinary('ffmpeg');
  const ffprobe = mediaBinary('ffprobe');

  const s3 = createS3Client(config);
  const dynamo = new DynamoDBClient(awsClientConfig(config));
  const sns = createSnsClient(config);
  const sqs = createSqsClient(config);
  lifecycle.onStop('aws clients', () => {
    for (const client of [s3, dynamo, sns, sqs]) client.destroy();
  });

  const ledger = new JobLedger(dynamo, { table: config.JOBS_TABLE });
  const worker = new ProcessingWorker({
    ledger,
    files: new VideoFiles(s3, config.VIDEOS_BUCKET),
    events: new ProcessingEventPublisher(sns, config.EVENTS_TOPIC_ARN),
    logger,
    settings: workerSettings(config),
  });

  const consumer = new QueueConsumer({
    sqs,
    queueUrl: config.EVENTS_QUEUE_URL,
    handler: worker.handle,
    logger,
    concurrency: config.PROCESSING_CONCURRENCY,
    visibilityTimeoutSeconds: config.VISIBILITY_SECONDS,
    backoff: { baseSeconds: config.RETRY_BASE_SECONDS, maxSeconds: 300 },
  });
  consumer.start();
  // the consumer's grace (running jobs may finish, then are released) must end before the lifecycle's deadline
  lifecycle.onStop('consumer', () => consumer.stop(Math.max(500, graceMs - 1500)));
  const queues = watchQueues(sqs, { queueUrl: config.EVENTS_QUEUE_URL, dlqUrl: config.EVENTS_DLQ_URL, consumer }, logger);
  lifecycle.onStop('queue monitor', () => queues.stop());

  const app = createHttpApp({
    service,
    version,
    logger,
    router: new Router(),
    health: [videosBucketCheck(s3, config.VIDEOS_BUCKET), jobLedgerCheck(dynamo, config.JOBS_TABLE)],
  });
  const server = await startHttpServer(app, { port: config.PORT, host: config.HOST });
  lifecycle.onStop('http', () => server.close());
  logger.info(
    { port: server.port, concurrency: config.PROCESSING_CONCURRENCY, preset: config.FFMPEG_PRESET, ffmpeg: ffmpeg.source, ffprobe: ffprobe.source },
    'processing ready',
  );
});

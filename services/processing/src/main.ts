import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  Router,
  awsClientConfig,
  createHttpApp,
  createSnsClient,
  runMain,
  serviceRuntime,
  startHttpServer,
  startQueueConsumer,
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
  const { version, logger, lifecycle } = serviceRuntime(service, import.meta.url, config);
  const graceMs = config.SHUTDOWN_GRACE_SECONDS * 1000;

  // fail at start-up, not at the first job, when there is no ffmpeg to run
  const ffmpeg = mediaBinary('ffmpeg');
  const ffprobe = mediaBinary('ffprobe');

  const s3 = createS3Client(config);
  const dynamo = new DynamoDBClient(awsClientConfig(config));
  const sns = createSnsClient(config);
  lifecycle.onStop('aws clients', () => {
    for (const client of [s3, dynamo, sns]) client.destroy();
  });

  const ledger = new JobLedger(dynamo, { table: config.JOBS_TABLE });
  const worker = new ProcessingWorker({
    ledger,
    files: new VideoFiles(s3, config.VIDEOS_BUCKET),
    events: new ProcessingEventPublisher(sns, config.EVENTS_TOPIC_ARN),
    logger,
    settings: workerSettings(config),
  });

  // the consumer's grace (running jobs may finish, then are released) must end before the lifecycle's deadline
  startQueueConsumer({
    config,
    logger,
    lifecycle,
    graceMs: Math.max(500, graceMs - 1500),
    handler: worker.handle,
    concurrency: config.PROCESSING_CONCURRENCY,
    visibilityTimeoutSeconds: config.VISIBILITY_SECONDS,
    backoff: { baseSeconds: config.RETRY_BASE_SECONDS, maxSeconds: 300 },
  });

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

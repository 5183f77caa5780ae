import { availableParallelism, tmpdir } from 'node:os';
import { z } from 'zod';
import { messagingDefaults } from '@anb/contracts';
import { awsConfigSchema, baseConfigSchema, env, loadConfig } from '@anb/platform';
import { x264Presets } from './encode';

/**
 * The processing worker's settings. The HTTP port only serves `/health`; the work arrives on the
 * queue. FFMPEG_PATH / FFPROBE_PATH are read by the media toolkit itself (optional: system binary,
 * else the npm-shipped one).
 */
export const processingConfigSchema = baseConfigSchema
  .extend(awsConfigSchema.shape)
  .extend({
    PORT: env.port(8084),
    EVENTS_TOPIC_ARN: z.string().startsWith('arn:', 'must be an SNS topic ARN'),
    EVENTS_QUEUE_URL: env.url(),
    /** watched for depth and age (metrics, a warning in the log) */
    EVENTS_DLQ_URL: env.url().optional(),
    VIDEOS_BUCKET: z.string().min(3, 'must be an S3 bucket name'),
    JOBS_TABLE: z.string().min(3, 'must be a DynamoDB table name'),
    /**
     * jobs at once per worker. One encode already keeps about two cores busy (x264's threads plus
     * decoding), and measured on 2 cores one job at a time finishes more clips per minute than two
     * (bench:processing: 4.7 vs 4.2), so: one job per two vCPUs, at least one
     */
    PROCESSING_CONCURRENCY: env.int(defaultConcurrency(), 1, 64),
    FFMPEG_PRESET: z.enum(x264Presets, { error: `must be one of ${x264Presets.join(', ')}` }).default('veryfast'),
    FFMPEG_CRF: env.int(23, 0, 51),
    /** threads per encode; 0 = the machine's vCPUs shared among the concurrent jobs */
    FFMPEG_THREADS: env.int(0, 0, 64),
    /** hard limit for one job (download, encode, verify, upload) */
    JOB_TIMEOUT_SECONDS: env.int(300, 10, 3600),
    /**
     * Attempts before VideoProcessingFailed. At most the queue's maxReceiveCount: the last attempt must
     * publish the failure before SQS would move the message to the DLQ.
     */
    MAX_ATTEMPTS: env.int(3, 1, messagingDefaults.maxReceiveCount),
    /** how long a claim in the ledger holds without renewal (a crashed worker's job is free after this) */
    LEASE_SECONDS: env.int(30, 3, 3600),
    /** SQS visibility of a received message; the consumer's heartbeat renews it at half-time */
    VISIBILITY_SECONDS: env.int(30, 2, 43_200),
    /** first retry delay after a transient failure (doubles with each delivery) */
    RETRY_BASE_SECONDS: env.int(2, 0, 300),
    /** where per-job temp folders are made */
    WORK_DIR: z.string().default(tmpdir()),
  });

export type ProcessingConfig = z.infer<typeof processingConfigSchema>;
export const loadProcessingConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(processingConfigSchema, source);

export function defaultConcurrency(cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / 2));
}

/** Threads for one encode: as configured, or an equal share of the vCPUs (0 lets ffmpeg take them all). */
export function encodeThreads(config: Pick<ProcessingConfig, 'FFMPEG_THREADS' | 'PROCESSING_CONCURRENCY'>, cores = availableParallelism()): number {
  if (config.FFMPEG_THREADS > 0) return config.FFMPEG_THREADS;
  return config.PROCESSING_CONCURRENCY > 1 ? Math.max(1, Math.floor(cores / config.PROCESSING_CONCURRENCY)) : 0;
}

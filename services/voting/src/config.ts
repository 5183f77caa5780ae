import { z } from 'zod';
import { awsConfigSchema, baseConfigSchema, databaseConfigSchema, env, loadConfig, relayConfigSchema } from '@anb/platform';

export const votingConfigSchema = baseConfigSchema
  .extend(awsConfigSchema.shape)
  .extend(databaseConfigSchema.shape)
  .extend(relayConfigSchema.shape)
  .extend({
    PORT: env.port(8083),
    /** voting's own topic: VoteCast is relayed there */
    EVENTS_TOPIC_ARN: z.string().startsWith('arn:', 'must be an SNS topic ARN'),
    /** voting's queue: UserRegistered, VideoPublished, VideoDeleted */
    EVENTS_QUEUE_URL: env.url(),
    /** watched for depth and age (metrics, a warning in the log) */
    EVENTS_DLQ_URL: env.url().optional(),
    /** where processed videos live (`processed/<video_id>.mp4`), for the signed URLs of the showcase */
    VIDEOS_BUCKET: z.string().min(3, 'must be a bucket name'),
    /** lifetime of a signed processed_url */
    SIGNED_URL_TTL_SECONDS: env.int(3600, 60, 7 * 24 * 3600),
    /** how long a page of the public lists is served from memory (0 turns the cache off) */
    PUBLIC_CACHE_MS: env.int(250, 0, 5000),
    /** consumed events handled at once */
    CONSUMER_CONCURRENCY: env.int(10, 1, 100),
  });

export type VotingConfig = z.infer<typeof votingConfigSchema>;
export const loadVotingConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(votingConfigSchema, source);

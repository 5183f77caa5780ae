import { z } from 'zod';
import { awsConfigSchema, baseConfigSchema, databaseConfigSchema, env, loadConfig, relayConfigSchema } from '@anb/platform';

export const catalogConfigSchema = baseConfigSchema
  .extend(awsConfigSchema.shape)
  .extend(databaseConfigSchema.shape)
  .extend(relayConfigSchema.shape)
  .extend({
    PORT: env.port(8082),
    EVENTS_TOPIC_ARN: z.string().startsWith('arn:', 'must be an SNS topic ARN'),
    EVENTS_QUEUE_URL: env.url(),
    /** watched for depth and age (metrics, a warning in the log) */
    EVENTS_DLQ_URL: env.url().optional(),
    VIDEOS_BUCKET: z.string().min(3),
    /** how long the signed links to stored files live */
    SIGNED_URL_SECONDS: env.int(900, 60, 7 * 24 * 3600),
    /** consumed events handled at once */
    CONSUMER_CONCURRENCY: env.int(10, 1, 100),
  });

export type CatalogConfig = z.infer<typeof catalogConfigSchema>;
export const loadCatalogConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(catalogConfigSchema, source);

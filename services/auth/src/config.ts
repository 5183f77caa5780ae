import { z } from 'zod';
import { awsConfigSchema, baseConfigSchema, databaseConfigSchema, env, loadConfig, relayConfigSchema } from '@anb/platform';

export const authConfigSchema = baseConfigSchema
  .extend(awsConfigSchema.shape)
  .extend(databaseConfigSchema.shape)
  .extend(relayConfigSchema.shape)
  .extend({
    PORT: env.port(8081),
    EVENTS_TOPIC_ARN: z.string().startsWith('arn:', 'must be an SNS topic ARN'),
    /** PKCS8 PEM of an RSA (2048 bits or more: RS256) or Ed25519 (EdDSA) key (production: from Secrets Manager) */
    AUTH_JWT_PRIVATE_KEY: z.string().optional(),
    /** local runs without AUTH_JWT_PRIVATE_KEY: a key generated once into this file */
    AUTH_JWT_KEY_FILE: z.string().optional(),
    AUTH_JWT_ISSUER: z.string().default('anb-auth'),
    AUTH_JWT_AUDIENCE: z.string().default('anb-api'),
  })
  .refine((c) => c.AUTH_JWT_PRIVATE_KEY || c.AUTH_JWT_KEY_FILE, {
    path: ['AUTH_JWT_PRIVATE_KEY'],
    message: 'is required (or AUTH_JWT_KEY_FILE for a local key file)',
  });

export type AuthConfig = z.infer<typeof authConfigSchema>;
export const loadAuthConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(authConfigSchema, source);

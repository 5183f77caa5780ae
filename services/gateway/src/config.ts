import { z } from 'zod';
import { baseConfigSchema, env, loadConfig } from '@anb/platform';

export const gatewayConfigSchema = baseConfigSchema.extend({
  PORT: env.port(8080),
  AUTH_URL: env.url(),
  CATALOG_URL: env.url(),
  VOTING_URL: env.url(),
  /** where the public keys come from; default: auth's JWKS endpoint */
  JWKS_URL: env.url().optional(),
  AUTH_JWT_ISSUER: z.string().default('anb-auth'),
  AUTH_JWT_AUDIENCE: z.string().default('anb-api'),
  /** a request to a service that takes longer than this answers 504 */
  UPSTREAM_TIMEOUT_MS: env.int(30_000, 100),
  /** uploads may take minutes on a slow link */
  UPLOAD_TIMEOUT_MS: env.int(15 * 60_000, 1000),
  /** signup/login attempts per client IP per minute (0 turns the limit off) */
  RATE_LIMIT_AUTH_PER_MINUTE: env.int(60, 0),
  /** answer anonymous GETs of rankings and the showcase from a 250 ms micro-cache */
  PUBLIC_CACHE: env.bool(true),
  /** forward the calls of routes a service takes in batches (votes) together, as they arrive */
  BATCH_FORWARDING: env.bool(true),
  /** answer the plain calls of batched routes (a vote with a known token) in front of Koa */
  DIRECT_CALLS: env.bool(true),
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
export const loadGatewayConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(gatewayConfigSchema, source);

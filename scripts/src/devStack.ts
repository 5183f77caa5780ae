/**
 * The whole platform on this machine with no Docker — embedded PostgreSQL (data kept in .data/), moto
 * as the local AWS, the topology from the contracts, every service, the gateway on :8080 — until a
 * signal (SIGINT, SIGTERM, SIGHUP) or its parent's end stops it all. `npm start` runs it through
 * dev.ts, in a process group of its own (see there).
 */
import { join } from 'node:path';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { MissingPrerequisiteError, motoAvailable, motoInstallHint } from '@anb/platform/local';
import { createServer } from 'node:net';
import { StartAborted, repoRoot, startStack, type RunningStack } from './stack/stack';

const started = performance.now();
const gatewayPort = Number(process.env.PORT ?? process.env.GATEWAY_PORT ?? 8080);
const dataDir = process.env.DATA_DIR ?? join(repoRoot, '.data');
const databaseUrl = process.env.DATABASE_URL || undefined;
const awsEndpoint = process.env.AWS_ENDPOINT_URL || undefined;
const logs = process.env.LOG_FORMAT === 'json' ? 'json' : 'pretty';

function fail(message: string): never {
  console.error(`\n✖ ${message}\n`);
  process.exit(1);
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

if (!awsEndpoint && !motoAvailable()) fail(motoInstallHint);
if (!(await portFree(gatewayPort))) fail(`port ${gatewayPort} is already in use. Stop what uses it, or start on another port: PORT=8090 npm start`);

console.log('Starting the ANB Rising Stars Showcase…');
// Ctrl-C while starting stops what has started so far
const starting = new AbortController();
const abortStart = () => {
  if (!starting.signal.aborted) console.log('\nstopping what has started so far…');
  starting.abort();
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, abortStart);
// our parent (dev.ts) killed outright cannot tell us: notice that it is gone and stop anyway (while
// starting too), so nothing is left behind
let parentGone = abortStart;
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) parentGone();
}, 500).unref();
let stack: RunningStack;
try {
  stack = await startStack({
    signal: starting.signal,
    dataDir,
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(awsEndpoint ? { awsEndpoint } : {}),
    ...(process.env.MOTO_PORT ? { motoPort: Number(process.env.MOTO_PORT) } : {}),
    prefix: process.env.RESOURCE_PREFIX ?? 'anb-local',
    gatewayPort,
    logs,
  });
} catch (error) {
  if (error instanceof StartAborted || starting.signal.aborted) {
    console.log('\nstopped while starting; nothing is left running');
    process.exit(130);
  }
  if (error instanceof MissingPrerequisiteError) fail(error.message);
  fail(`the stack did not start: ${(error as Error).message}`);
}

const seconds = ((performance.now() - started) / 1000).toFixed(1);
const gateway = `http://localhost:${gatewayPort}`;
const safeDb = stack.databaseUrl.replace(/:[^:@/]+@/, ':***@');
console.log(`
ANB Rising Stars Showcase is up in ${seconds} s

  API          ${gateway}/api
  Swagger UI   ${gateway}/api/docs
  OpenAPI      ${gateway}/api/openapi.json
  Health       ${gateway}/health
  PostgreSQL   ${safeDb}${stack.embeddedPostgres ? `   (embedded; data in ${join(dataDir, 'postgres')})` : ''}
  Local AWS    ${stack.awsEndpoint}   (${awsEndpoint ? 'external' : 'moto_server'}; resources prefixed ${stack.resources.prefix}-)
  Services     ${[...stack.processes.keys()].map((s) => `${s} ${stack.urls[s]}`).join(' · ')}

Ctrl-C stops everything.
`);

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, abortStart);
let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping every service…`);
  const t = performance.now();
  await stack.stop();
  console.log(`stopped in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGHUP', () => void shutdown('SIGHUP'));
parentGone = () => void shutdown('parent process exited');

// a service that dies on its own is reported, not silently ignored
for (const [service, child] of stack.processes) {
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`✖ ${service} exited (${signal ?? `code ${code}`}); the rest keeps running. Restart with Ctrl-C and npm start.`);
  });
}

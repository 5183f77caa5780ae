/**
 * `npm test`: every test of the repository on Node's runner. Starts one real PostgreSQL (embedded)
 * and one moto_server for the whole run; each test file creates its own database and its own AWS
 * resource prefix on them, so files run in parallel without touching each other.
 *
 *   npm test                      everything
 *   npm test -- services/auth     only test files whose path contains one of the arguments
 *   npm test -- --only unit       unit (no *.int / *.e2e), or --only e2e
 */
import { spawn } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { prepareClusterTemplate, startMoto, motoAvailable, motoInstallHint } from '@anb/platform/local';
import { repoRoot } from './stack/stack';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const roots = ['contracts', 'observability', 'services', 'infra', 'scripts'];
const skip = new Set(['node_modules', 'dist', '.data', '.tmp', 'assets']);

function findTests(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    if (skip.has(entry)) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (entry.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
let only: string | undefined;
const filters: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--only') only = args[++i];
  else if (!args[i]!.startsWith('--')) filters.push(args[i]!);
}

const kind = (file: string) => (file.endsWith('.e2e.test.ts') ? 'e2e' : 'other');
let files = roots.flatMap((r) => findTests(join(repoRoot, r))).sort();
if (only === 'unit') files = files.filter((f) => kind(f) !== 'e2e');
if (only === 'e2e') files = files.filter((f) => kind(f) === 'e2e');
if (filters.length > 0) files = files.filter((f) => filters.some((flt) => relative(repoRoot, f).includes(flt)));
// the slow end-to-end files first, so they overlap with the many quick ones
files.sort((a, b) => Number(kind(b) === 'e2e') - Number(kind(a) === 'e2e'));

if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
if (!process.env.TEST_AWS_ENDPOINT_URL && !motoAvailable()) {
  console.error(motoInstallHint);
  process.exit(1);
}

const started = performance.now();
// type-check first: a type error fails the run in seconds, before any server starts
if (!process.env.SKIP_TYPECHECK) {
  const tsc = spawn(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-b'], { cwd: repoRoot, stdio: 'inherit' });
  const tscCode: number = await new Promise((resolve) => tsc.on('exit', (c) => resolve(c ?? 1)));
  if (tscCode !== 0) {
    console.error('type-check failed (tsc -b)');
    process.exit(tscCode);
  }
  console.log(`type-check passed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
// every test file runs its own PostgreSQL (copied from one initialised cluster) unless TEST_DATABASE_URL
// points at a server to share; one moto serves the whole run (each file has its own resource prefix)
const [template, moto] = await Promise.all([
  process.env.TEST_DATABASE_URL ? undefined : prepareClusterTemplate(join(tmpdir(), `anb-pg-template-${process.pid}`)),
  process.env.TEST_AWS_ENDPOINT_URL ? undefined : startMoto(),
]);
const env = {
  ...process.env,
  ...(template ? { TEST_PG_TEMPLATE: template } : {}),
  TEST_AWS_ENDPOINT_URL: process.env.TEST_AWS_ENDPOINT_URL ?? moto!.endpoint,
};
console.log(
  `${files.length} test files · PostgreSQL ${template ? 'embedded, one server per file' : 'from TEST_DATABASE_URL'} · moto ${moto ? moto.endpoint : 'from TEST_AWS_ENDPOINT_URL'} · ready in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);

const concurrency = Number(process.env.TEST_CONCURRENCY ?? Math.max(2, availableParallelism()));
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=600000', ...(process.env.TEST_REPORTER ? [`--test-reporter=${process.env.TEST_REPORTER}`] : []), ...files],
  { cwd: repoRoot, env, stdio: 'inherit' },
);
const stopAll = async () => {
  await moto?.stop();
  if (template) rmSync(template, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    child.kill(signal);
  });
}
const code: number = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await stopAll();
console.log(`\ntests finished in ${((performance.now() - started) / 1000).toFixed(1)} s with exit code ${code}`);
process.exit(code);

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { freePort, waitFor } from '@anb/platform/local';
import { renderSyntheticVideo } from '@anb/platform/media';
import { processingEventId } from './events';
import { JobLedger } from './ledger';
import { startTestbed, type Testbed } from './testbed';

/**
 * The service as the local stack runs it — `node --import tsx --import @anb/observability/register
 * services/processing/src/main.ts` with the stack's environment — killed in the ways production kills it: SIGKILL mid-job (the lease and the
 * message's visibility run out, another worker finishes it) and SIGTERM mid-job (the job is aborted,
 * its lease released and its message given back at once). Lease and visibility are 6 s here.
 */

const mainTs = fileURLToPath(new URL('./main.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

let bed: Testbed;
let dir: string;
let ledger: JobLedger;
const workers: Worker[] = [];

interface Worker {
  child: ChildProcess;
  url: string;
  log: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startWorker(): Promise<Worker> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', '@anb/observability/register', mainTs], {
    cwd: repoRoot,
    // its own process group, so a SIGKILL takes its ffmpeg along, as when a container dies
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...bed.serviceEnv,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'info',
      OTEL_SERVICE_NAME: 'processing',
      ANB_TELEMETRY_DIR: join(dir, 'telemetry'),
      PROCESSING_CONCURRENCY: '1',
      FFMPEG_PRESET: 'ultrafast',
      LEASE_SECONDS: '6',
      VISIBILITY_SECONDS: '6',
      RETRY_BASE_SECONDS: '1',
      SHUTDOWN_GRACE_SECONDS: '2',
      WORK_DIR: dir,
    },
  });
  const log: string[] = [];
  const keep = (chunk: Buffer) => log.push(...chunk.toString().split('\n').filter(Boolean));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const worker = { child, url: `http://127.0.0.1:${port}`, log, exited };
  workers.push(worker);
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}: ${log.slice(-5).join('\n')}`);
      return (await fetch(`${worker.url}/health`, { signal: AbortSignal.timeout(2000) })).status === 200;
    },
    { timeoutMs: 60_000, intervalMs: 100, message: 'processing worker healthy' },
  );
  return worker;
}

function tail(worker: Worker): string {
  return worker.log.slice(-15).join('\n');
}

before(async () => {
  bed = await startTestbed();
  dir = await mkdtemp(join(tmpdir(), 'anb-main-test-'));
  await renderSyntheticVideo(join(dir, 'original.mp4'), { width: 1920, height: 1080, seconds: 21 });
  ledger = new JobLedger(bed.dynamo, { table: bed.resources.jobTable });
});

after(async () => {
  for (const w of workers) {
    if (w.child.exitCode === null && w.child.signalCode === null) process.kill(-w.child.pid!, 'SIGKILL');
    await w.exited;
  }
  await bed?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function newVideo(): Promise<string> {
  const videoId = randomUUID();
  await bed.putOriginal(videoId, join(dir, 'original.mp4'));
  return videoId;
}

/** The job is under way: claimed in the ledger and announced as started (download and encode come next). */
async function underWay(videoId: string): Promise<void> {
  await bed.tap.waitFor(videoId, 'VideoProcessingStarted');
  assert.equal((await ledger.get(videoId))?.status, 'running');
}

describe('processing service process', () => {
  test('reports its bucket and ledger on /health', async () => {
    const worker = await startWorker();
    const health = (await (await fetch(`${worker.url}/health`)).json()) as { status: string; checks: Record<string, { status: string }> };
    assert.equal(health.status, 'healthy');
    assert.deepEqual(Object.keys(health.checks).sort(), ['job-ledger', 'videos-bucket']);
    worker.child.kill('SIGTERM');
    assert.deepEqual(await worker.exited, { code: 0, signal: null });
  });

  test('a worker killed with SIGKILL mid-job: once lease and visibility run out, another worker finishes the video', async () => {
    const videoId = await newVideo();
    const first = await startWorker();
    await bed.announceUpload(videoId);
    await underWay(videoId);
    process.kill(-first.child.pid!, 'SIGKILL');
    assert.equal((await first.exited).signal, 'SIGKILL');

    const second = await startWorker();
    const [processed] = await bed.tap
      .waitFor(videoId, 'VideoProcessed', { timeoutMs: 120_000 })
      .catch((error: Error) => assert.fail(`${error.message}\n${tail(second)}`));
    assert.equal(processed!.id, processingEventId(videoId, 'VideoProcessed', 2), 'finished by attempt 2');
    assert.deepEqual(
      bed.tap.of(videoId).map((e) => `${e.type}:${(e.data as { attempt?: number }).attempt ?? ''}`),
      ['VideoProcessingStarted:1', 'VideoProcessingStarted:2', 'VideoProcessed:'],
    );
    const item = await ledger.get(videoId);
    assert.equal(item?.status, 'done');
    assert.equal(item?.attempts, 2);

    // SIGTERM while the next job runs: the job is aborted, its lease released and its message given back
    const next = await newVideo();
    const traceId = randomBytes(16).toString('hex');
    await bed.announceUpload(next, { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` });
    await underWay(next);
    second.child.kill('SIGTERM');
    assert.deepEqual(await second.exited, { code: 0, signal: null }, tail(second));
    const released = await ledger.get(next);
    assert.equal(released?.status, 'running');
    assert.ok((released?.leaseExpiresAt ?? Infinity) <= Date.now(), 'lease released, not left to expire');

    const third = await startWorker();
    const [done] = await bed.tap
      .waitFor(next, 'VideoProcessed', { timeoutMs: 120_000 })
      .catch((error: Error) => assert.fail(`${error.message}\n${tail(third)}`));
    assert.equal(done!.id, processingEventId(next, 'VideoProcessed', 2));
    assert.equal(done!.traceparent?.split('-')[1], traceId, 'the upload\'s trace continues through processing');
    third.child.kill('SIGTERM');
    assert.deepEqual(await third.exited, { code: 0, signal: null });
  });
});

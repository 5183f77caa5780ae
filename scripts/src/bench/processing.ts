/**
 * `npm run bench:processing`: the video pipeline's throughput and overhead on this machine, on the real
 * stack (embedded PostgreSQL, moto, every service as its own process). Prints figures; asserts nothing.
 *
 *   - seconds per clip and videos/minute for BENCH_CLIPS generated 30 s 1080p clips, at worker
 *     concurrency 1 and 2 (BENCH_CONCURRENCY=1,2)
 *   - the pipeline's overhead: upload answer → `processed` minus the ffmpeg run itself
 *   - peak RSS growth of video-catalog while a ~100 MB upload streams through it
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runFfmpeg } from '@anb/platform/media';
import { loadSpans } from '../trace';
import { testClip, uploadForm } from '../e2e/media';
import { startTestStack, type TestStack } from '../e2e/support';
import { repoRoot } from '../stack/stack';
import { stopOnSignals } from './support';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const clips = Number(process.env.BENCH_CLIPS ?? 4);
const concurrencies = (process.env.BENCH_CONCURRENCY ?? '1,2').split(',').map(Number);
/** FFMPEG_THREADS for the worker (unset: the service's default) */
const threads = process.env.BENCH_THREADS;

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function waitProcessed(stack: TestStack, token: string, ids: string[], startedAt: Map<string, number>) {
  const done = new Map<string, number>();
  while (done.size < ids.length) {
    const list = (await stack.api.get('/api/videos', token)).body as { video_id: string; status: string; failure_reason?: string }[];
    for (const v of list) {
      if (v.status === 'failed') throw new Error(`${v.video_id} failed: ${v.failure_reason}`);
      if (v.status === 'processed' && !done.has(v.video_id) && startedAt.has(v.video_id)) done.set(v.video_id, performance.now());
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return done;
}

function encodeMs(stack: TestStack, videoId: string): number | undefined {
  const spans = loadSpans(join(stack.telemetryDir, 'spans.jsonl'));
  const span = spans.find((s) => Object.values(s.attributes).includes(videoId) && typeof s.attributes['anb.encode.ms'] === 'number');
  return span ? Number(span.attributes['anb.encode.ms']) : undefined;
}

const stack = await startTestStack({ services: ['auth', 'video-catalog', 'processing', 'gateway'], env: { OTEL_METRIC_EXPORT_INTERVAL: '60000' } });
stopOnSignals(() => stack.stop());
try {
  console.log(`machine: ${(await import('node:os')).availableParallelism()} cores · clips: ${clips} × 30 s 1080p 30 fps`);
  const source = await testClip({ width: 1920, height: 1080, seconds: 30, fps: 30, audio: true });
  console.log(`source clip: ${(statSync(source).size / 1e6).toFixed(1)} MB\n`);

  for (const concurrency of concurrencies) {
    await stack.restart('processing', { PROCESSING_CONCURRENCY: String(concurrency), ...(threads ? { FFMPEG_THREADS: threads } : {}) });
    // the stopped worker's last long poll (20 s) is still open at the queue and would swallow the first
    // message until its visibility timeout: let it expire before measuring
    await new Promise((r) => setTimeout(r, 21_000));
    const player = await stack.api.newPlayer();
    const startedAt = new Map<string, number>();
    const t0 = performance.now();
    for (let i = 0; i < clips; i++) {
      const res = await stack.api.request('POST', '/api/videos/upload', { token: player.token, body: await uploadForm(source, { title: `bench ${i}` }) });
      if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${res.text}`);
      startedAt.set(res.body.video_id, performance.now());
    }
    const done = await waitProcessed(stack, player.token, [...startedAt.keys()], startedAt);
    const total = (Math.max(...done.values()) - t0) / 1000;
    const perClip = [...startedAt.entries()].map(([id, t]) => (done.get(id)! - t) / 1000);
    await new Promise((r) => setTimeout(r, 1500)); // let the spans reach the file
    const overheads = [...startedAt.entries()]
      .map(([id, t]) => {
        const enc = encodeMs(stack, id);
        return enc === undefined ? undefined : (done.get(id)! - t) / 1000 - enc / 1000;
      })
      .filter((x): x is number => x !== undefined);
    const encodes = [...startedAt.keys()].map((id) => encodeMs(stack, id)).filter((x): x is number => x !== undefined);
    console.log(`concurrency ${concurrency}:`);
    console.log(`  ${clips} clips in ${total.toFixed(1)} s → ${((clips / total) * 60).toFixed(2)} processed clips/minute`);
    console.log(`  upload answer → processed per clip: ${perClip.map((s) => s.toFixed(1)).join(', ')} s`);
    if (encodes.length) console.log(`  ffmpeg encode per clip: ${encodes.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s`);
    if (overheads.length && concurrency === 1) {
      console.log(`  pipeline overhead beyond ffmpeg (first clip, no queueing): ${overheads[0]!.toFixed(2)} s; all: ${overheads.map((s) => s.toFixed(2)).join(', ')} s`);
    }
    console.log('');
  }

  // peak RSS of the catalog while a ~100 MB upload streams through it
  const big = join(repoRoot, '.tmp', 'media', 'bench-100mb.mp4');
  try {
    statSync(big);
  } catch {
    // noise at a high bitrate: a real, valid 25 s 1080p MP4 of ~95 MB
    await runFfmpeg(
      ['-f', 'lavfi', '-i', 'testsrc2=s=1920x1080:r=10:d=25', '-vf', 'noise=alls=60:allf=t', '-c:v', 'libx264', '-preset', 'ultrafast',
        '-b:v', '30M', '-minrate', '30M', '-maxrate', '30M', '-bufsize', '30M', '-pix_fmt', 'yuv420p', '-y', `file:${big}`],
      { timeoutMs: 300_000 },
    );
  }
  const size = statSync(big).size;
  const catalogPid = stack.processes.get('video-catalog')!.pid!;
  const player = await stack.api.newPlayer();
  const baseline = rssMb(catalogPid);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(catalogPid))), 20);
  const t = performance.now();
  const res = await stack.api.request('POST', '/api/videos/upload', { token: player.token, body: await uploadForm(big, { title: 'grande' }) });
  clearInterval(sampler);
  console.log(
    `100 MB upload: ${(size / 1e6).toFixed(1)} MB answered ${res.status} in ${((performance.now() - t) / 1000).toFixed(1)} s; ` +
      `video-catalog RSS ${baseline.toFixed(0)} MB → peak ${peak.toFixed(0)} MB (growth ${(peak - baseline).toFixed(0)} MB)`,
  );
} finally {
  await stack.stop();
}

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createLogger } from '@anb/observability';
import { QueueConsumer } from '@anb/platform';
import { waitFor } from '@anb/platform/local';
import { FfmpegError, probeMedia, renderSyntheticVideo, runningMediaProcesses } from '@anb/platform/media';
import { defaultEncodeSettings, encodeVideo } from './encode';
import { ProcessingEventPublisher, processingEventId } from './events';
import { JobLedger } from './ledger';
import { startTestbed, type Testbed } from './testbed';
import { createS3Client, processedKey, VideoFiles } from './videos';
import { ProcessingWorker } from './worker';

/**
 * The worker in-process against moto, fed the way production feeds it: VideoUploaded/VideoDeleted
 * published on the catalog topic, fanned out to the processing queue by the subscription filter; what
 * it announces is read from the processing topic through a tap queue. Real ffmpeg encodes of generated
 * clips (5 fps sources, ultrafast), so a test waits seconds, not minutes.
 */

const logger = createLogger({ service: 'processing-test', level: process.env.LOG_LEVEL ?? 'silent' });
const sourceSeconds = 21;

let bed: Testbed;
let dir: string;
let workDir: string;
let ledger: JobLedger;
let worker: ProcessingWorker;
let consumer: QueueConsumer;
const workerS3 = { client: undefined as ReturnType<typeof createS3Client> | undefined };
const source = () => join(dir, 'original.mp4');

/** GetObject keys whose next download fails like an S3 hiccup (500 InternalError). */
const s3Faults = new Set<string>();
/** encodes started, per video */
const runs = new Map<string, number>();
/** per-video changes to the encode: break it, or slow it down so a test can stop it midway */
const encodeTweaks = new Map<string, (input: Parameters<typeof encodeVideo>[0]) => Parameters<typeof encodeVideo>[0]>();
const encodeStarted = new Map<string, () => void>();
const encodeResults = new Map<string, Promise<unknown>>();

const videoOf = (outputPath: string) => /anb-job-([\da-f-]{36})-/.exec(outputPath)?.[1] ?? '?';

before(async () => {
  bed = await startTestbed();
  dir = await mkdtemp(join(tmpdir(), 'anb-worker-test-'));
  workDir = join(dir, 'jobs');
  await mkdir(workDir);
  await Promise.all([
    renderSyntheticVideo(source(), { width: 1920, height: 1080, seconds: sourceSeconds }),
    renderSyntheticVideo(join(dir, 'small.mp4'), { width: 1280, height: 720, seconds: sourceSeconds, audio: false }),
  ]);
  // ftyp and half of the media data, no index: still starts like an MP4
  const whole = await readFile(source());
  await writeFile(join(dir, 'truncated.mp4'), whole.subarray(0, Math.floor(whole.length / 2)));

  const s3 = createS3Client({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: bed.aws.endpoint });
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const key = (args.input as { Key?: string }).Key;
      if (context.commandName === 'GetObjectCommand' && key && s3Faults.delete(key)) {
        throw Object.assign(new Error('We encountered an internal error. Please try again.'), { name: 'InternalError', $fault: 'server' });
      }
      return next(args);
    },
    { step: 'initialize', name: 'injectS3Faults' },
  );
  workerS3.client = s3;
  ledger = new JobLedger(bed.dynamo, { table: bed.resources.jobTable });
  worker = new ProcessingWorker({
    ledger,
    files: new VideoFiles(s3, bed.resources.bucket),
    events: new ProcessingEventPublisher(bed.sns, bed.resources.topics['processing-events']!),
    logger,
    settings: {
      workerId: 'test-worker',
      encode: { ...defaultEncodeSettings, preset: 'ultrafast' },
      leaseMs: 6000,
      jobTimeoutMs: 120_000,
      maxAttempts: 2,
      workDir,
    },
    encode: (input, options) => {
      const videoId = videoOf(input.outputPath);
      runs.set(videoId, (runs.get(videoId) ?? 0) + 1);
      encodeStarted.get(videoId)?.();
      const result = encodeVideo(encodeTweaks.get(videoId)?.(input) ?? input, options);
      encodeResults.set(videoId, result.catch((error: unknown) => error));
      return result;
    },
  });
  consumer = new QueueConsumer({
    sqs: bed.sqs,
    queueUrl: bed.resources.queues.processing!.url,
    handler: worker.handle,
    logger,
    concurrency: 2,
    waitTimeSeconds: 1,
    visibilityTimeoutSeconds: 10,
    backoff: { baseSeconds: 1, maxSeconds: 4 },
  });
  consumer.start();
});

after(async () => {
  await consumer?.stop(5000);
  workerS3.client?.destroy();
  await bed?.stop();
  await rm(dir, { recursive: true, force: true });
  assert.equal(runningMediaProcesses(), 0, 'no ffmpeg left running');
});

async function newVideo(file = source()): Promise<string> {
  const videoId = randomUUID();
  await bed.putOriginal(videoId, file);
  return videoId;
}

/** Nothing in flight, no job running, no job folder left behind. */
async function settled(): Promise<void> {
  await waitFor(() => consumer.counts.inFlight === 0 && worker.runningJobs === 0, { timeoutMs: 60_000, message: 'worker idle' });
  assert.deepEqual(await readdir(workDir), [], 'every job folder was removed');
}

async function download(key: string): Promise<string> {
  const path = join(dir, `${randomUUID()}.mp4`);
  const out = await bed.s3.send(new GetObjectCommand({ Bucket: bed.resources.bucket, Key: key }));
  await pipeline(out.Body as Readable, createWriteStream(path));
  return path;
}

describe('processing worker (in-process, moto, real ffmpeg)', () => {
  let first: { videoId: string; uploaded: Awaited<ReturnType<Testbed['announceUpload']>>; processedId: string };

  test('an upload is announced as started, then processed, with the facts of a verified 1280x720 h264 file without audio', async () => {
    const videoId = await newVideo();
    const uploaded = await bed.announceUpload(videoId);
    const [processed] = await bed.tap.waitFor(videoId, 'VideoProcessed');
    const events = bed.tap.of(videoId);
    assert.deepEqual(
      events.map((e) => e.type),
      ['VideoProcessingStarted', 'VideoProcessed'],
    );
    const started = events[0]!;
    assert.equal(started.type === 'VideoProcessingStarted' && started.data.attempt, 1);
    assert.equal(started.id, processingEventId(videoId, 'VideoProcessingStarted', 1));
    for (const event of events) {
      assert.equal(event.source, 'anb.processing');
      assert.equal(event.subject, videoId);
      assert.equal(event.causationid, uploaded.id, 'caused by the VideoUploaded');
      assert.equal(event.correlationid, uploaded.correlationid, 'same correlation as the upload');
    }

    const data = processed!.data;
    assert.equal(processed!.id, processingEventId(videoId, 'VideoProcessed', 1));
    assert.equal(data.processedKey, processedKey(videoId));
    assert.equal(data.width, 1280);
    assert.equal(data.height, 720);
    assert.ok(Math.abs(data.durationSeconds - (sourceSeconds + 5)) <= 0.3, `duration ${data.durationSeconds}`);
    assert.ok(data.processingMs > 0);
    assert.equal(data.sizeBytes, await bed.objectSize(data.processedKey), 'sizeBytes is the stored object');

    // the stored file, checked from the outside
    const summary = await probeMedia(await download(data.processedKey));
    assert.equal(summary.video?.codec, 'h264');
    assert.equal(summary.video?.width, 1280);
    assert.equal(summary.video?.height, 720);
    assert.equal(summary.hasAudio, false);
    assert.ok(Math.abs(summary.durationSeconds! - (sourceSeconds + 5)) <= 0.3);

    const item = await ledger.get(videoId);
    assert.equal(item?.status, 'done');
    assert.equal(item?.attempts, 1);
    assert.equal(runs.get(videoId), 1);
    await settled();
    first = { videoId, uploaded, processedId: processed!.id };
  });

  test('a redelivery after it finished re-announces the same VideoProcessed (same id) and encodes nothing', async () => {
    const { videoId, uploaded, processedId } = first;
    await bed.announceUpload(videoId, { envelope: uploaded });
    const both = await bed.tap.waitFor(videoId, 'VideoProcessed', { count: 2 });
    assert.equal(both[1]!.id, processedId);
    assert.deepEqual(both[1], both[0], 'the very same event');
    assert.equal(runs.get(videoId), 1, 'one ffmpeg run');
    assert.equal(bed.tap.of(videoId).filter((e) => e.type === 'VideoProcessingStarted').length, 1, 'not started again');
    await settled();
  });

  test('the same upload delivered twice at once is encoded once; both deliveries end in the same announcement', async () => {
    const videoId = await newVideo();
    const uploaded = await bed.announceUpload(videoId);
    await bed.announceUpload(videoId, { envelope: uploaded });
    const processed = await bed.tap.waitFor(videoId, 'VideoProcessed', { count: 2, timeoutMs: 90_000 });
    assert.equal(processed[0]!.id, processed[1]!.id);
    assert.equal(runs.get(videoId), 1, 'one ffmpeg run');
    assert.equal(bed.tap.of(videoId).filter((e) => e.type === 'VideoProcessingStarted').length, 1);
    assert.equal((await ledger.get(videoId))?.attempts, 1, 'the second delivery never claimed it');
    await settled();
  });

  test('a file that breaks the upload rules fails at once with the rule, not retried', async () => {
    const videoId = await newVideo(join(dir, 'small.mp4'));
    await bed.announceUpload(videoId);
    const [failed] = await bed.tap.waitFor(videoId, 'VideoProcessingFailed');
    assert.equal(failed!.data.retryable, false);
    assert.equal(failed!.data.attempt, 1);
    assert.match(failed!.data.reason, /resolución mínima es 1080p.*1280x720/);
    assert.equal(runs.get(videoId), undefined, 'never encoded');
    assert.equal((await ledger.get(videoId))?.status, 'failed');
    await settled();
  });

  test('a truncated MP4 (ftyp, half the data, no index) fails at once as not a valid MP4', async () => {
    const videoId = await newVideo(join(dir, 'truncated.mp4'));
    await bed.announceUpload(videoId);
    const [failed] = await bed.tap.waitFor(videoId, 'VideoProcessingFailed');
    assert.equal(failed!.data.retryable, false);
    assert.equal(failed!.data.reason, 'El archivo no es un video MP4 válido.');
    assert.equal(bed.tap.of(videoId).filter((e) => e.type === 'VideoProcessingStarted').length, 1);
    await settled();
  });

  test('ffmpeg failing is retried with backoff, then announced as failed with its last line; a redelivery re-announces', async () => {
    const videoId = await newVideo();
    encodeTweaks.set(videoId, (input) => ({ ...input, assets: { logoPng: join(dir, 'missing-logo.png'), watermarkPng: join(dir, 'missing-wm.png') } }));
    const uploaded = await bed.announceUpload(videoId);
    const [failed] = await bed.tap.waitFor(videoId, 'VideoProcessingFailed');
    assert.deepEqual(
      bed.tap.of(videoId).map((e) => `${e.type}:${(e.data as { attempt?: number }).attempt ?? ''}`),
      ['VideoProcessingStarted:1', 'VideoProcessingStarted:2', 'VideoProcessingFailed:2'],
    );
    assert.equal(runs.get(videoId), 2, 'MAX_ATTEMPTS (2) runs');
    assert.equal(failed!.data.retryable, true);
    assert.match(failed!.data.reason, /^No se pudo procesar el video tras 2 intentos; último error: ffmpeg falló: .*missing-logo\.png.*No such file/);
    assert.equal(failed!.id, processingEventId(videoId, 'VideoProcessingFailed', 2));
    assert.equal(await bed.objectSize(processedKey(videoId)), undefined);
    await settled();

    await bed.announceUpload(videoId, { envelope: uploaded });
    const again = await bed.tap.waitFor(videoId, 'VideoProcessingFailed', { count: 2 });
    assert.deepEqual(again[1], again[0]);
    assert.equal(runs.get(videoId), 2);
    await settled();
  });

  test('a transient S3 failure while downloading is retried, and the next attempt processes the video', async () => {
    const videoId = await newVideo();
    s3Faults.add(`originals/${videoId}.mp4`);
    await bed.announceUpload(videoId);
    const [processed] = await bed.tap.waitFor(videoId, 'VideoProcessed');
    assert.deepEqual(
      bed.tap.of(videoId).map((e) => e.type),
      ['VideoProcessingStarted', 'VideoProcessingStarted', 'VideoProcessed'],
    );
    assert.equal(processed!.id, processingEventId(videoId, 'VideoProcessed', 2), 'processed on attempt 2');
    assert.equal(runs.get(videoId), 1, 'the failed attempt never reached ffmpeg');
    assert.equal((await ledger.get(videoId))?.attempts, 2);
    await settled();
  });

  test('on the last delivery before the DLQ, a video held by a silent worker is waited for, then taken over', async () => {
    // a worker claimed it and died: its lease still runs for 1.5 s, and this is the 5th (last) delivery
    const videoId = await newVideo(join(dir, 'small.mp4'));
    const ghost = await ledger.claim(videoId, 'ghost/1', 1500);
    assert.equal(ghost.kind, 'claimed');
    const envelope = bed.uploadEnvelope(videoId);
    const started = Date.now();
    // handed to the worker directly, as the consumer would on the 5th receive
    await worker.handle({ Body: JSON.stringify(envelope), MessageId: 'm5', ReceiptHandle: 'r5' }, { receiveCount: 5, messageId: 'm5', signal: new AbortController().signal });
    assert.ok(Date.now() - started >= 1000, 'waited for the lease to run out');
    const [failed] = await bed.tap.waitFor(videoId, 'VideoProcessingFailed');
    assert.equal(failed!.data.attempt, 2, 'taken over as attempt 2');
    assert.match(failed!.data.reason, /resolución mínima/);
    await settled();
  });

  test('a video deleted before its upload is handled is never processed', async () => {
    const videoId = await newVideo();
    await bed.announceDeletion(videoId);
    await waitFor(async () => (await ledger.get(videoId))?.deletedAt, { timeoutMs: 30_000, message: 'deletion mark' });
    const handled = consumer.counts.succeeded;
    await bed.announceUpload(videoId);
    await waitFor(() => consumer.counts.succeeded > handled, { timeoutMs: 30_000, message: 'upload handled' });
    await settled();
    await bed.tap.poll();
    assert.deepEqual(bed.tap.of(videoId), [], 'nothing announced');
    assert.equal(runs.get(videoId), undefined);
    assert.equal((await ledger.get(videoId))?.status, undefined, 'never claimed');
  });

  /** Starts processing a video with a deliberately slow encode, resolves once ffmpeg runs. */
  async function startSlowJob(): Promise<string> {
    const videoId = await newVideo();
    encodeTweaks.set(videoId, (input) => ({ ...input, settings: { ...input.settings, preset: 'veryslow' } }));
    const running = new Promise<void>((resolve) => encodeStarted.set(videoId, resolve));
    await bed.announceUpload(videoId);
    await running;
    return videoId;
  }

  async function assertStoppedAndClean(videoId: string): Promise<void> {
    await settled();
    const result = await encodeResults.get(videoId);
    assert.ok(result instanceof FfmpegError && result.reason === 'aborted', `ffmpeg was stopped midway (got ${String(result)})`);
    await bed.tap.poll();
    assert.deepEqual(
      bed.tap.of(videoId).map((e) => e.type),
      ['VideoProcessingStarted'],
      'nothing announced after the start',
    );
    assert.equal(await bed.objectSize(processedKey(videoId)), undefined, 'no processed file');
    const item = await ledger.get(videoId);
    assert.ok(item?.deletedAt);
    assert.equal(item?.status, 'running', 'no outcome recorded over the deletion');
  }

  test('a video deleted while it is encoded (VideoDeleted handled here): the job stops at once and leaves nothing', async () => {
    const videoId = await startSlowJob();
    await bed.announceDeletion(videoId);
    await assertStoppedAndClean(videoId);
  });

  test('a deletion handled by another worker is seen at the next lease renewal: the job stops and leaves nothing', async () => {
    const videoId = await startSlowJob();
    await ledger.markDeleted(videoId, new Date().toISOString());
    await assertStoppedAndClean(videoId);
  });

  test('a processed video that is deleted loses its processed file, and a late redelivery of its upload does nothing', async () => {
    const { videoId, uploaded } = first;
    assert.ok(await bed.objectSize(processedKey(videoId)));
    await bed.announceDeletion(videoId);
    await waitFor(async () => (await bed.objectSize(processedKey(videoId))) === undefined, { timeoutMs: 30_000, message: 'processed file removed' });
    assert.ok((await ledger.get(videoId))?.deletedAt);

    const handled = consumer.counts.succeeded;
    const announced = bed.tap.of(videoId).length;
    await bed.announceUpload(videoId, { envelope: uploaded });
    await waitFor(() => consumer.counts.succeeded > handled, { timeoutMs: 30_000, message: 'redelivery handled' });
    await settled();
    await bed.tap.poll();
    assert.equal(bed.tap.of(videoId).length, announced, 'nothing re-announced for a deleted video');
    assert.equal(runs.get(videoId), 1);
  });
});

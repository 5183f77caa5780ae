import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Message } from '@aws-sdk/client-sqs';
import { SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import { messagingDefaults, parseEnvelope, type EventEnvelope } from '@anb/contracts';
import type { Logger } from '@anb/observability';
import { PermanentFailure, counter, histogram, type MessageContext } from '@anb/platform';
import { checkUploadRules, MediaProbeError, notMp4Message, probeMedia } from '@anb/platform/media';
import { encodeThreads, type ProcessingConfig } from './config';
import { encodeVideo, type EncodeSettings } from './encode';
import { causeOf, type EventCause, type ProcessingEventPublisher } from './events';
import { exhaustedReason, JobHeldElsewhereError, JobStoppedError, judgeFailure, UnprocessableVideoError, type StopCause } from './failures';
import type { JobLedger, Lease, StoredOutcome } from './ledger';
import { processedKey, type VideoFiles } from './videos';

/**
 * The processing job, as PROCESSING.md describes it: for each VideoUploaded, claim the video in the
 * ledger, announce the start, download the original into a per-job folder, check the upload rules again,
 * encode in one ffmpeg pass, verify, upload the result (multipart), record the outcome, announce it.
 * Transient failures are thrown (the queue redelivers with backoff); the last attempt, or a failure no
 * retry can fix, ends in VideoProcessingFailed — never in a silent DLQ entry.
 */

export interface WorkerSettings {
  /** names this process in lease owners and logs */
  workerId: string;
  encode: EncodeSettings;
  leaseMs: number;
  jobTimeoutMs: number;
  maxAttempts: number;
  workDir: string;
}

export function workerSettings(config: ProcessingConfig): WorkerSettings {
  return {
    workerId: `${hostname()}:${process.pid}`,
    encode: {
      preset: config.FFMPEG_PRESET,
      crf: config.FFMPEG_CRF,
      threads: encodeThreads(config),
      fps: 30,
      width: 1280,
      height: 720,
      maxSeconds: 30,
      bumperSeconds: 2.5,
    },
    leaseMs: config.LEASE_SECONDS * 1000,
    jobTimeoutMs: config.JOB_TIMEOUT_SECONDS * 1000,
    maxAttempts: config.MAX_ATTEMPTS,
    workDir: config.WORK_DIR,
  };
}

export interface WorkerDeps {
  ledger: JobLedger;
  files: VideoFiles;
  events: ProcessingEventPublisher;
  logger: Logger;
  settings: WorkerSettings;
  /** the encode step; replaceable so tests can count or break runs */
  encode?: typeof encodeVideo;
}

type VideoUploaded = EventEnvelope<'VideoUploaded'>;
type VideoDeleted = EventEnvelope<'VideoDeleted'>;

const tracer = trace.getTracer('@anb/processing/worker');
const jobDuration = histogram('anb.processing.duration', 'How long a processing job took, by outcome', 's', [1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 300]);
const jobs = counter('anb.processing.jobs', 'Processing jobs by outcome (processed, failed, retried, deleted)');

export class ProcessingWorker {
  /** jobs running in this process, so a VideoDeleted handled here stops its job at once */
  private readonly jobs = new Map<string, JobStop>();
  private readonly encode: typeof encodeVideo;

  constructor(private readonly deps: WorkerDeps) {
    this.encode = deps.encode ?? encodeVideo;
  }

  get runningJobs(): number {
    return this.jobs.size;
  }

  /** The queue consumer's handler. */
  readonly handle = async (message: Message, ctx: MessageContext): Promise<void> => {
    let envelope: EventEnvelope;
    try {
      envelope = parseEnvelope(message.Body ?? '');
    } catch (error) {
      // nothing to announce a failure for: the DLQ (and its alarm) is the right place
      throw new PermanentFailure(`not a valid event: ${(error as Error).message}`, { cause: error });
    }
    switch (envelope.type) {
      case 'VideoUploaded':
        return this.processUpload(envelope, ctx);
      case 'VideoDeleted':
        return this.forgetVideo(envelope);
      default:
        // the subscription filter should make this impossible; acknowledging keeps the queue moving
        this.deps.logger.warn({ type: envelope.type, eventId: envelope.id }, 'processing ignores this event type');
    }
  };

  private async processUpload(envelope: VideoUploaded, ctx: MessageContext): Promise<void> {
    const { videoId } = envelope.data;
    const { ledger, events, settings } = this.deps;
    const log = this.deps.logger.child({ videoId, eventId: envelope.id, receiveCount: ctx.receiveCount });
    const owner = `${settings.workerId}/${randomUUID()}`;
    for (;;) {
      const claim = await ledger.claim(videoId, owner, settings.leaseMs);
      switch (claim.kind) {
        case 'claimed':
          return this.runJob(envelope, claim.lease, ctx, log.child({ attempt: claim.lease.attempt }));
        case 'deleted':
          log.info('video was deleted: not processing it');
          return;
        case 'already-done':
        case 'already-failed':
          // a duplicate (or a redelivery after a lost acknowledgement): say the same thing again, same id
          await events.publish(claim.outcome);
          log.info({ outcome: claim.outcome.type, attempt: claim.outcome.attempt }, 'already processed: outcome re-announced');
          return;
        case 'running-elsewhere':
          if (ctx.receiveCount < messagingDefaults.maxReceiveCount) throw new JobHeldElsewhereError(videoId, claim.remainingMs);
          // The last delivery before the DLQ: acknowledging could strand the video if the holder died with
          // a long lease left, and failing would dead-letter it. Wait here instead (the consumer's heartbeat
          // keeps the message) until the holder finishes or its lease runs out, then decide again.
          log.info({ owner: claim.owner, remainingMs: claim.remainingMs }, 'last delivery: waiting for the worker that holds the video');
          await abortableDelay(Math.min(claim.remainingMs + 100, settings.leaseMs), ctx.signal);
          continue;
        default: {
          const never: never = claim;
          throw new Error(`unexpected claim result ${JSON.stringify(never)}`);
        }
      }
    }
  }

  private async runJob(envelope: VideoUploaded, lease: Lease, ctx: MessageContext, log: Logger): Promise<void> {
    const { ledger, events, settings } = this.deps;
    const upload = envelope.data;
    const { videoId } = upload;
    const { attempt } = lease;
    const cause = causeOf(envelope);
    const lastAttempt = attempt >= settings.maxAttempts || ctx.receiveCount >= messagingDefaults.maxReceiveCount;

    if (attempt > settings.maxAttempts) {
      // earlier attempts ended without a word (the worker died mid-job): do not start another
      const reason = exhaustedReason(attempt - 1, 'el procesamiento se interrumpió sin terminar');
      await this.fail(lease, cause, { reason, retryable: true }, log);
      return;
    }

    await events.publish({ type: 'VideoProcessingStarted', attempt, cause, data: { videoId, attempt, startedAt: new Date().toISOString() } }).catch(
      async (error: unknown) => {
        await ledger.release(lease).catch(() => 'lost');
        throw error;
      },
    );
    log.info('processing started');

    const stop = new JobStop(ctx.signal, settings.jobTimeoutMs);
    this.jobs.set(videoId, stop);
    const heartbeat = this.keepLease(lease, stop, log);
    const started = performance.now();
    const span = tracer.startSpan('process video', { attributes: { 'anb.video_id': videoId, 'anb.processing.attempt': attempt } });
    let outcomeLabel = 'failed';
    // the job span is the parent of everything the job does, the announcements included
    await context.with(trace.setSpan(context.active(), span), async () => {
      try {
        const result = await this.produce(upload, stop.signal, span, log);
        stop.signal.throwIfAborted();
        const outcome: StoredOutcome = {
          type: 'VideoProcessed',
          attempt,
          cause,
          data: {
            videoId,
            processedKey: result.key,
            durationSeconds: Math.round(result.durationSeconds * 1000) / 1000,
            width: result.width,
            height: result.height,
            sizeBytes: result.sizeBytes,
            processingMs: Math.round(performance.now() - started),
            processedAt: new Date().toISOString(),
          },
        };
        const recorded = await ledger.recordOutcome(lease, outcome);
        if (recorded === 'deleted') {
          outcomeLabel = 'deleted';
          await this.removeProcessed(videoId, log);
          log.info('video was deleted while it was processed: result removed');
          return;
        }
        if (recorded === 'lost') {
          log.warn('lease was taken over before the result was recorded; the other worker announces it');
          return;
        }
        await events.publish(outcome);
        outcomeLabel = 'processed';
        span.setStatus({ code: SpanStatusCode.OK });
        log.info({ processingMs: outcome.data.processingMs, sizeBytes: outcome.data.sizeBytes }, 'video processed');
      } catch (raw) {
        const error = stop.stoppedBy ? new JobStoppedError(stop.stoppedBy) : raw;
        span.recordException(raw as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        outcomeLabel = lastAttempt ? 'failed' : 'retried';
        await this.afterFailure(error, raw, lease, cause, lastAttempt, log);
      } finally {
        jobDuration.record((performance.now() - started) / 1000, { outcome: outcomeLabel });
        jobs.add(1, { outcome: outcomeLabel });
        clearInterval(heartbeat);
        stop.dispose();
        if (this.jobs.get(videoId) === stop) this.jobs.delete(videoId);
        span.end();
      }
    });
  }

  private async afterFailure(error: unknown, raw: unknown, lease: Lease, cause: EventCause, lastAttempt: boolean, log: Logger): Promise<void> {
    const { ledger, settings } = this.deps;
    if (error instanceof JobStoppedError) {
      switch (error.stoppedBy) {
        case 'deleted':
          await this.removeProcessed(lease.videoId, log);
          log.info('video was deleted: job stopped and cleaned up');
          return;
        case 'lease-lost':
          log.warn('lease was taken over by another worker: job stopped');
          return;
        case 'shutdown':
          // the consumer gives the message back (visibility 0); free the lease so it is taken at once
          await ledger.release(lease).catch(() => 'lost');
          log.info('worker stopping: job released');
          throw error;
        case 'timeout':
          break; // a failure like any other: retried while attempts remain
      }
    }
    const verdict = judgeFailure(error, { jobTimeoutSeconds: settings.jobTimeoutMs / 1000 });
    if (verdict.permanent || lastAttempt) {
      const reason = verdict.permanent ? verdict.reason : exhaustedReason(lease.attempt, verdict.reason);
      log.warn({ err: raw, reason }, 'processing failed');
      await this.fail(lease, cause, { reason, retryable: !verdict.permanent }, log);
      return;
    }
    log.warn({ err: raw, reason: verdict.reason }, 'processing attempt failed; it will be retried');
    await ledger.release(lease).catch(() => 'lost');
    throw raw;
  }

  /** Records and announces VideoProcessingFailed (the message is then acknowledged). */
  private async fail(lease: Lease, cause: EventCause, failure: { reason: string; retryable: boolean }, log: Logger): Promise<void> {
    const outcome: StoredOutcome = {
      type: 'VideoProcessingFailed',
      attempt: lease.attempt,
      cause,
      data: { videoId: lease.videoId, reason: failure.reason, retryable: failure.retryable, attempt: lease.attempt, failedAt: new Date().toISOString() },
    };
    const recorded = await this.deps.ledger.recordOutcome(lease, outcome);
    if (recorded === 'deleted') {
      log.info('video was deleted: its failure is not announced');
      return;
    }
    if (recorded === 'lost') {
      log.warn('lease was taken over before the failure was recorded; the other worker decides');
      return;
    }
    await this.deps.events.publish(outcome);
    log.info({ reason: failure.reason }, 'processing failure announced');
  }

  /** Download, re-check, encode, verify, upload — in a job folder that is always removed. */
  private async produce(
    upload: VideoUploaded['data'],
    signal: AbortSignal,
    span: Span,
    log: Logger,
  ): Promise<{ key: string; durationSeconds: number; width: number; height: number; sizeBytes: number }> {
    const { files, settings } = this.deps;
    const dir = await mkdtemp(join(settings.workDir, `anb-job-${upload.videoId}-`));
    try {
      const source = join(dir, 'original.mp4');
      const output = join(dir, 'processed.mp4');
      const downloaded = await files.download(upload.originalKey, source, signal);
      log.debug({ bytes: downloaded }, 'original downloaded');

      const summary = await probeMedia(source, { signal, timeoutMs: 30_000 }).catch((error: unknown) => {
        if (error instanceof MediaProbeError && error.reason === 'invalid-media') throw new UnprocessableVideoError(notMp4Message);
        throw error;
      });
      const rules = checkUploadRules(summary);
      if (!rules.ok) throw new UnprocessableVideoError(rules.message);

      let reported = 0;
      const encoded = await this.encode(
        { source, sourceSeconds: summary.durationSeconds ?? 0, outputPath: output, settings: settings.encode },
        {
          signal,
          timeoutMs: settings.jobTimeoutMs,
          onProgress: (p) => {
            span.setAttribute('anb.encode.progress', Math.round(p.fraction * 100) / 100);
            if (p.fraction - reported >= 0.25 || (p.fraction === 1 && reported < 1)) {
              reported = p.fraction;
              log.info({ percent: Math.round(p.fraction * 100), speed: p.speed }, 'encoding');
            }
          },
        },
      );
      const video = encoded.summary.video!;
      const { size } = await stat(output);
      span.setAttributes({ 'anb.encode.ms': encoded.elapsedMs, 'anb.encode.output_bytes': size });

      const key = processedKey(upload.videoId);
      await files.upload(output, key, signal);
      return { key, durationSeconds: encoded.summary.durationSeconds ?? encoded.expectedSeconds, width: video.width, height: video.height, sizeBytes: size };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Renews the lease at a third of its length; stops the job when the video was deleted or the lease lost. */
  private keepLease(lease: Lease, stop: JobStop, log: Logger): NodeJS.Timeout {
    const { ledger, settings } = this.deps;
    let renewing = false;
    return setInterval(
      () => {
        if (renewing) return;
        renewing = true;
        ledger
          .renew(lease, settings.leaseMs)
          .then((check) => {
            if (check === 'deleted') stop.stop('deleted');
            else if (check === 'lost') stop.stop('lease-lost');
          })
          .catch((error: unknown) => log.warn({ err: error }, 'lease renewal failed; retrying at the next beat'))
          .finally(() => (renewing = false));
      },
      Math.max(500, Math.floor(settings.leaseMs / 3)),
    );
  }

  /** VideoDeleted: mark the ledger (so the video is never processed again), stop a job here, remove the result. */
  private async forgetVideo(envelope: VideoDeleted): Promise<void> {
    const { videoId, deletedAt } = envelope.data;
    const log = this.deps.logger.child({ videoId, eventId: envelope.id });
    const before = await this.deps.ledger.markDeleted(videoId, deletedAt);
    this.jobs.get(videoId)?.stop('deleted');
    // a job elsewhere notices the mark at its next lease renewal and removes what it uploaded itself
    if (before?.status) await this.removeProcessed(videoId, log);
    log.info({ status: before?.status ?? 'never seen' }, 'video deleted: marked in the ledger');
  }

  private async removeProcessed(videoId: string, log: Logger): Promise<void> {
    await this.deps.files.delete(processedKey(videoId));
    log.debug('processed file removed');
  }
}

/** Waits, unless the worker is stopping (then the message goes back to the queue). */
function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new JobStoppedError('shutdown'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new JobStoppedError('shutdown'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Everything that can stop a running job, as one AbortSignal: the consumer's stop (shutdown), the job's
 * hard time limit, a deletion, a lost lease. The first cause wins and is kept for the failure handling.
 */
class JobStop {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onShutdown = () => this.stop('shutdown');
  stoppedBy: StopCause | undefined;

  constructor(
    private readonly shutdown: AbortSignal,
    timeoutMs: number,
  ) {
    this.timer = setTimeout(() => this.stop('timeout'), timeoutMs);
    if (shutdown.aborted) this.stop('shutdown');
    else shutdown.addEventListener('abort', this.onShutdown, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  stop(cause: StopCause): void {
    if (this.stoppedBy) return;
    this.stoppedBy = cause;
    this.controller.abort(new JobStoppedError(cause));
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.shutdown.removeEventListener('abort', this.onShutdown);
  }
}

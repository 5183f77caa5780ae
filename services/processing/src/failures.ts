import { RetryLater } from '@anb/platform';
import { FfmpegError, MediaProbeError } from '@anb/platform/media';
import { ProcessedOutputRejectedError } from './encode';

/**
 * How a job can fail, and what the owner reads in `VideoProcessingFailed.reason` (Spanish, like every
 * message the player sees). Permanent failures end the job at once; transient ones are retried with
 * backoff until the last attempt.
 */

/** The input cannot be processed (it broke the upload rules, or is not a readable MP4): retrying cannot help. */
export class UnprocessableVideoError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'UnprocessableVideoError';
  }
}

export type StopCause = 'shutdown' | 'deleted' | 'lease-lost' | 'timeout';

/** A job stopped from outside: the worker is stopping, the video was deleted, the lease was lost, or time ran out. */
export class JobStoppedError extends Error {
  constructor(readonly stoppedBy: StopCause) {
    super(`job stopped: ${stoppedBy}`);
    this.name = 'JobStoppedError';
  }
}

/** Another worker holds the video's lease: try again later (the delivery is not lost). */
/** Not a failure: the message comes back once the other worker's lease would have run out. */
export class JobHeldElsewhereError extends RetryLater {
  constructor(videoId: string, remainingMs: number) {
    super(`video ${videoId} is being processed by another worker (its lease ends in ${Math.ceil(remainingMs / 1000)} s)`, Math.ceil(remainingMs / 1000) + 1);
    this.name = 'JobHeldElsewhereError';
  }
}

export interface FailureVerdict {
  /** retrying cannot change the result */
  permanent: boolean;
  /** for the owner */
  reason: string;
}

/** The worker's temp paths mean nothing to the owner: `file:/tmp/anb-job-<id>-x/original.mp4` → `original.mp4`. */
const jobFolder = /(?:file:)?[^\s'"]*\/anb-job-[^/\s'"]+\//g;

/** Classifies what a job threw. `jobTimeoutSeconds` names the limit in the reason. */
export function judgeFailure(error: unknown, context: { jobTimeoutSeconds: number }): FailureVerdict {
  const tidy = (line: string) => line.replace(jobFolder, '');
  if (error instanceof UnprocessableVideoError) return { permanent: true, reason: error.reason };
  // the encode ran and produced something that breaks the output contract: the same input would again
  if (error instanceof ProcessedOutputRejectedError) return { permanent: true, reason: error.message };
  if ((error instanceof JobStoppedError && error.stoppedBy === 'timeout') || (error instanceof FfmpegError && error.reason === 'timeout')) {
    return { permanent: false, reason: `el procesamiento superó el tiempo máximo de ${context.jobTimeoutSeconds} s` };
  }
  if (error instanceof FfmpegError) {
    const line = error.stderrTail.at(-1);
    return { permanent: false, reason: `ffmpeg falló: ${tidy(line ?? error.message)}` };
  }
  if (error instanceof MediaProbeError) return { permanent: false, reason: `ffprobe falló: ${tidy(error.message)}` };
  const name = (error as { name?: string }).name;
  const message = (error as { message?: string }).message ?? String(error);
  return { permanent: false, reason: `error al procesar el video (${name ?? 'Error'}): ${tidy(message)}` };
}

/** The reason published when the attempts run out. */
export function exhaustedReason(attempts: number, last: string): string {
  return `No se pudo procesar el video tras ${attempts} ${attempts === 1 ? 'intento' : 'intentos'}; último error: ${last}`;
}

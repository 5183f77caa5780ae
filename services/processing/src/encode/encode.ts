import { ffmpegFeatures, probeMedia, runFfmpeg, type FfmpegProgress, type MediaSummary } from '@anb/platform/media';
import { buildEncodeArgs, expectedOutputSeconds, type EncodeAssets, type EncodeSettings } from './args';
import { anbAssets } from './assets';
import { isFastStart, verifyProcessedOutput } from './verify';

export interface EncodeVideoInput {
  /** local path or http(s) URL */
  source: string;
  /** the source's duration as probed (the worker probes it anyway to re-check the upload rules) */
  sourceSeconds: number;
  outputPath: string;
  settings: EncodeSettings;
  assets?: EncodeAssets;
}

export interface EncodeVideoOptions {
  signal?: AbortSignal;
  /** hard limit for the ffmpeg run */
  timeoutMs: number;
  /** `fraction` is 0–1 of the expected output length */
  onProgress?: (progress: FfmpegProgress & { fraction: number }) => void;
}

export interface EncodedVideo {
  summary: MediaSummary;
  expectedSeconds: number;
  elapsedMs: number;
}

/** The encode ran but its result breaks the output contract; the message is the reason shown to the owner. */
export class ProcessedOutputRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProcessedOutputRejectedError';
  }
}

/**
 * One encode, verified: runs the single ffmpeg pass, then probes the result and checks it against the
 * contract (h264, 1280x720, no audio, expected length, moov first) before anyone publishes it.
 * Throws FfmpegError (the run), MediaProbeError (the probe) or ProcessedOutputRejectedError (the result).
 */
export async function encodeVideo(input: EncodeVideoInput, options: EncodeVideoOptions): Promise<EncodedVideo> {
  const started = performance.now();
  const expectedSeconds = expectedOutputSeconds(input.sourceSeconds, input.settings);
  const args = buildEncodeArgs({
    source: input.source,
    outputPath: input.outputPath,
    assets: input.assets ?? anbAssets,
    settings: input.settings,
    ffmpeg: await ffmpegFeatures(),
  });
  const { signal, onProgress } = options;
  await runFfmpeg(args, {
    timeoutMs: options.timeoutMs,
    signal,
    onProgress: onProgress && ((p) => onProgress({ ...p, fraction: Math.min(1, p.outTimeSeconds / expectedSeconds) })),
  });
  const summary = await probeMedia(input.outputPath, { timeoutMs: 30_000, signal });
  const verdict = verifyProcessedOutput(summary, {
    durationSeconds: expectedSeconds,
    maxSeconds: input.settings.maxSeconds + 2 * input.settings.bumperSeconds,
    width: input.settings.width,
    height: input.settings.height,
  });
  if (!verdict.ok) throw new ProcessedOutputRejectedError(verdict.reason);
  if (!(await isFastStart(input.outputPath))) {
    throw new ProcessedOutputRejectedError('El video procesado no es válido: su índice (moov) no está al inicio del archivo.');
  }
  return { summary, expectedSeconds, elapsedMs: Math.round(performance.now() - started) };
}

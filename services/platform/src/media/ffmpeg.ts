import { ffmpegPath } from './binaries';
import { runTool, type ToolRun } from './child';
import { redactUrlsInText } from './input';

export interface FfmpegProgress {
  /** how far into the output ffmpeg has written */
  outTimeSeconds: number;
  /** multiple of real time, e.g. 2.5 */
  speed?: number;
  frame?: number;
}

export interface RunFfmpegOptions {
  signal?: AbortSignal;
  /** hard limit for the whole run; a stuck encode must end as a failure, not hold a worker slot */
  timeoutMs: number;
  onProgress?: (progress: FfmpegProgress) => void;
  /** SIGTERM lets ffmpeg close its output; after this long it gets SIGKILL */
  killGraceMs?: number;
}

export type FfmpegFailure = 'failed' | 'timeout' | 'aborted' | 'spawn-failed';

export class FfmpegError extends Error {
  constructor(
    readonly reason: FfmpegFailure,
    message: string,
    readonly exitCode: number | null,
    /** the last lines ffmpeg wrote to stderr (URL query strings removed) */
    readonly stderrTail: readonly string[],
    options: { cause?: unknown; signal?: string | null } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'FfmpegError';
    this.signal = options.signal ?? null;
  }
  readonly signal: string | null;
}

/**
 * Global options every run gets: no banner, never read stdin (a child sharing the worker's stdin could
 * swallow it or stop on SIGTTIN), machine-readable progress on stdout instead of the stats line, and only
 * errors on stderr, so the stderr tail is the reason when it fails.
 */
export const ffmpegGlobalArgs: readonly string[] = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-progress', 'pipe:1'];

/** Runs ffmpeg with `args` (after the global options); resolves when it exited 0. */
export async function runFfmpeg(args: readonly string[], options: RunFfmpegOptions): Promise<void> {
  const progress = new ProgressParser();
  const onStdout = options.onProgress
    ? (chunk: string) => {
        for (const p of progress.push(chunk)) {
          try {
            options.onProgress?.(p);
          } catch {
            // progress is advisory: a failing reporter must not break the encode
          }
        }
      }
    : undefined;
  let run: ToolRun;
  try {
    run = await runTool(ffmpegPath(), [...ffmpegGlobalArgs, ...args], {
      signal: options.signal,
      timeoutMs: options.timeoutMs,
      killGraceMs: options.killGraceMs ?? 2000,
      onStdout,
    });
  } catch (error) {
    throw new FfmpegError('spawn-failed', `could not start ffmpeg: ${(error as Error).message}`, null, [], { cause: error });
  }
  const tail = run.stderrTail.map(redactUrlsInText);
  if (run.stopped === 'aborted') {
    throw new FfmpegError('aborted', 'ffmpeg was stopped: the job was aborted', run.code, tail, {
      cause: options.signal?.reason,
      signal: run.signal,
    });
  }
  if (run.stopped === 'timeout') {
    throw new FfmpegError('timeout', `ffmpeg was stopped after the ${Math.round(options.timeoutMs / 1000)} s time limit`, run.code, tail, {
      signal: run.signal,
    });
  }
  if (run.code !== 0) {
    const how = run.code === null ? `was killed by ${run.signal ?? 'a signal'}` : `exited with code ${run.code}`;
    const why = tail.at(-1);
    throw new FfmpegError('failed', why ? `ffmpeg ${how}: ${why}` : `ffmpeg ${how}`, run.code, tail, { signal: run.signal });
  }
}

/**
 * `-progress` writes blocks of `key=value` lines, each closed by `progress=continue` (or `=end`). One
 * report per block. `out_time_us` is the modern key; older builds also write it as `out_time_ms` (in
 * microseconds despite the name); `out_time` (HH:MM:SS.micro) is the fallback. Early blocks can carry
 * `N/A` or a negative time: those are skipped.
 */
export class ProgressParser {
  private partial = '';
  private block = new Map<string, string>();

  push(chunk: string): FfmpegProgress[] {
    const lines = (this.partial + chunk).split(/\r?\n/);
    this.partial = lines.pop() ?? '';
    const out: FfmpegProgress[] = [];
    for (const line of lines) {
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      if (key !== 'progress') {
        this.block.set(key, value);
        continue;
      }
      const report = toProgress(this.block);
      this.block = new Map();
      if (report) out.push(report);
    }
    return out;
  }
}

function toProgress(block: ReadonlyMap<string, string>): FfmpegProgress | undefined {
  const micros = finite(block.get('out_time_us')) ?? finite(block.get('out_time_ms'));
  const seconds = micros !== undefined ? micros / 1e6 : clockSeconds(block.get('out_time'));
  if (seconds === undefined || seconds < 0) return undefined;
  const report: FfmpegProgress = { outTimeSeconds: seconds };
  const speed = finite(block.get('speed')?.replace(/x$/, ''));
  if (speed !== undefined) report.speed = speed;
  const frame = finite(block.get('frame'));
  if (frame !== undefined) report.frame = frame;
  return report;
}

function finite(value: string | undefined): number | undefined {
  if (value === undefined || value === '' || value === 'N/A') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function clockSeconds(value: string | undefined): number | undefined {
  const match = value?.match(/^(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/);
  if (!match) return undefined;
  const [, sign, h, m, s] = match;
  const total = Number(h) * 3600 + Number(m) * 60 + Number(s);
  return sign ? -total : total;
}

export interface FfmpegFeatures {
  /** `-fps_mode` (ffmpeg ≥ 5.1); older builds only know `-vsync`, which ffmpeg 9 removed */
  fpsMode: boolean;
}

let features: Promise<FfmpegFeatures> | undefined;

/**
 * What the resolved ffmpeg accepts, found by trying it on a one-frame null encode rather than by parsing
 * version strings (static and git builds have none worth parsing). Memoised.
 */
export function ffmpegFeatures(): Promise<FfmpegFeatures> {
  features ??= (async () => {
    const run = await runTool(
      ffmpegPath(),
      ['-hide_banner', '-nostdin', '-v', 'error', '-f', 'lavfi', '-i', 'color=s=16x16:d=0.1', '-fps_mode', 'cfr', '-f', 'null', '-'],
      { timeoutMs: 15_000, killGraceMs: 0 },
    );
    return { fpsMode: run.code === 0 };
  })();
  features.catch(() => (features = undefined)); // a failed start is not an answer worth keeping
  return features;
}

import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Runs ffmpeg/ffprobe as a child process (argument array, never a shell) and always waits for it to be
 * gone: on abort or timeout it gets SIGTERM, then SIGKILL after a grace period. The promise settles only
 * after the process has closed its pipes, so a caller that awaited it never leaves a child behind.
 */

export interface ToolRunOptions {
  signal?: AbortSignal | undefined;
  timeoutMs: number;
  /** time between SIGTERM and SIGKILL; 0 kills at once (nothing to flush, e.g. ffprobe) */
  killGraceMs?: number;
  /** keep stdout (up to `maxStdoutBytes`) for the caller, e.g. ffprobe's JSON */
  collectStdout?: boolean;
  maxStdoutBytes?: number;
  onStdout?: (chunk: string) => void;
  /** how many trailing stderr lines to keep for the error message */
  stderrLines?: number;
}

export interface ToolRun {
  /** null when the process was ended by a signal */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** set when we ended it */
  stopped: 'timeout' | 'aborted' | undefined;
  stdout: string;
  stdoutTruncated: boolean;
  stderrTail: string[];
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort for `process.exit()` while a job runs (e.g. a shutdown deadline): take the children along. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** Number of media child processes currently running (for tests and health output). */
export function runningMediaProcesses(): number {
  return live.size;
}

/** Rejects only when the process could not be started at all (e.g. ENOENT); exit codes are the caller's. */
export function runTool(command: string, args: readonly string[], options: ToolRunOptions): Promise<ToolRun> {
  const { signal, timeoutMs, killGraceMs = 2000, collectStdout = false, maxStdoutBytes = 8 * 1024 * 1024 } = options;
  if (signal?.aborted) {
    return Promise.resolve({ code: null, signal: null, stopped: 'aborted', stdout: '', stdoutTruncated: false, stderrTail: [] });
  }
  installExitHook();
  return new Promise<ToolRun>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], shell: false, windowsHide: true });
    live.add(child);
    const stderr = new LineTail(options.stderrLines ?? 20);
    const stdoutParts: string[] = [];
    let stdoutBytes = 0;
    let stdoutTruncated = false;
    let stopped: ToolRun['stopped'];
    let killTimer: NodeJS.Timeout | undefined;
    let spawnError: Error | undefined;

    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (collectStdout) {
        if (stdoutBytes + chunk.length <= maxStdoutBytes) {
          stdoutParts.push(chunk);
          stdoutBytes += chunk.length;
        } else stdoutTruncated = true;
      }
      options.onStdout?.(chunk);
    });
    child.stderr.on('data', (chunk: string) => stderr.push(chunk));

    const stop = (why: 'timeout' | 'aborted') => {
      if (stopped || child.exitCode !== null || child.signalCode !== null) return;
      stopped = why;
      if (killGraceMs <= 0) {
        child.kill('SIGKILL');
        return;
      }
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), killGraceMs);
    };
    const onAbort = () => stop('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    const timeout = setTimeout(() => stop('timeout'), timeoutMs);

    child.once('error', (error) => {
      // 'error' without a pid means it never started; 'close' still follows and settles the promise.
      spawnError = error;
    });
    child.once('close', (code, exitSignal) => {
      live.delete(child);
      clearTimeout(timeout);
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      if (spawnError && child.pid === undefined) {
        reject(spawnError);
        return;
      }
      resolve({ code, signal: exitSignal, stopped, stdout: stdoutParts.join(''), stdoutTruncated, stderrTail: stderr.lines() });
    });
  });
}

/** Keeps the last `max` non-empty lines of a stream, each capped, without holding the whole output. */
export class LineTail {
  private readonly kept: string[] = [];
  private partial = '';

  constructor(
    private readonly max: number,
    private readonly maxLineLength = 1000,
  ) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split(/\r?\n|\r/);
    this.partial = (parts.pop() ?? '').slice(-this.maxLineLength);
    for (const line of parts) this.keep(line);
  }

  lines(): string[] {
    const out = [...this.kept];
    if (this.partial.trim()) out.push(this.partial.trim());
    return out.slice(-this.max);
  }

  private keep(line: string): void {
    const trimmed = line.trim();
    if (!trimmed) return;
    this.kept.push(trimmed.length > this.maxLineLength ? `${trimmed.slice(0, this.maxLineLength)}…` : trimmed);
    if (this.kept.length > this.max) this.kept.shift();
  }
}

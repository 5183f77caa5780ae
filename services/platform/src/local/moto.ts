import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from './ports';

export interface LocalAws {
  /** e.g. http://127.0.0.1:4566 */
  readonly endpoint: string;
  /** the emulator's process, when this one started it (benchmarks count its CPU) */
  readonly pid?: number | undefined;
  stop(): Promise<void>;
}

export class MissingPrerequisiteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingPrerequisiteError';
  }
}

export const motoInstallHint =
  'moto_server (the local AWS) was not found on PATH. Install it with:  pip install "moto[server]"  ' +
  '(Python 3.9+), or point AWS_ENDPOINT_URL at a running moto/LocalStack.';

function commandWorks(command: string): boolean {
  const probe = spawnSync(command, ['--help'], { stdio: 'ignore' });
  return !probe.error && probe.status === 0;
}

export function motoAvailable(): boolean {
  return commandWorks('moto_server');
}

/** `moto-patches/sitecustomize.py`, loaded by moto at start-up: mends the emulator's own costs (listed in the file) */
const motoPatches = fileURLToPath(new URL('./moto-patches', import.meta.url));

/**
 * Starts `moto_server` on a port (free one by default) and waits until `GET /moto-api/` answers.
 * `idlePriority` runs it under the SCHED_IDLE policy (`chrt --idle`, else `nice -n 19`): the emulator of
 * services that in production run on other machines then gets only the CPU the platform's own
 * processes leave idle (benchmarks use it).
 */
export async function startMoto(options: { port?: number; idlePriority?: boolean; onLog?: (line: string) => void } = {}): Promise<LocalAws> {
  if (!motoAvailable()) throw new MissingPrerequisiteError(motoInstallHint);
  const port = options.port ?? (await freePort());
  const args = ['-H', '127.0.0.1', '-p', String(port)];
  // chrt/nice exec moto_server in place: same pid, so stopping it works the same
  const [command, commandArgs] = !options.idlePriority
    ? ['moto_server', args]
    : commandWorks('chrt')
      ? ['chrt', ['--idle', '0', 'moto_server', ...args]]
      : ['nice', ['-n', '19', 'moto_server', ...args]];
  const child: ChildProcess = spawn(command, commandArgs, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
    env: { ...process.env, PYTHONPATH: [motoPatches, process.env.PYTHONPATH].filter(Boolean).join(delimiter) },
  });
  const log = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) options.onLog?.(line);
  };
  child.stdout?.on('data', log);
  child.stderr?.on('data', log);
  let exited = false;
  child.once('exit', () => (exited = true));
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (exited) throw new Error(`moto_server exited (port ${port} busy?)`);
      const res = await fetch(`${endpoint}/moto-api/`);
      return res.ok;
    },
    { timeoutMs: 30_000, intervalMs: 100, message: `moto_server did not answer on ${endpoint}` },
  );
  return {
    endpoint,
    pid: child.pid,
    async stop() {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/**
 * The local AWS for one test file: the run's shared moto when `TEST_AWS_ENDPOINT_URL` is set, else a
 * moto of its own. Each test gets its own resource prefix, so tests sharing a moto never collide.
 */
export async function startTestAws(): Promise<LocalAws & { prefix: string }> {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const shared = process.env.TEST_AWS_ENDPOINT_URL;
  if (shared) return { endpoint: shared, prefix, stop: async () => {} };
  const moto = await startMoto();
  return { ...moto, prefix };
}

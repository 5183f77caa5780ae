import { createServer } from 'node:net';

/** A port that was free a moment ago (the OS picks it), for a server we start next. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls `probe` until it returns a truthy value or the deadline passes (tests wait on conditions, never sleeps). */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  options: {
    timeoutMs?: number;
    intervalMs?: number;
    message?: string;
    /** checked before every probe: an error returned here ends the wait at once (a child that exited…) */
    giveUp?: () => Error | undefined;
  } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let lastError: unknown;
  for (;;) {
    const fatal = options.giveUp?.();
    if (fatal) throw fatal;
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`${options.message ?? 'condition not met'} within ${options.timeoutMs ?? 10_000} ms${reason}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}

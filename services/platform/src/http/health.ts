import type { HealthResponse } from '@anb/contracts';

export interface HealthCheck {
  readonly name: string;
  /** a failing non-critical check is reported but leaves the service healthy (e.g. the relay's SNS backlog) */
  readonly critical?: boolean;
  check(): Promise<void>;
}

/** Runs every check at once with a timeout; healthy only when all pass. */
export async function runHealthChecks(checks: readonly HealthCheck[], meta: { version: string; service: string }, timeoutMs = 2000): Promise<HealthResponse> {
  const entries = await Promise.all(
    checks.map(async (c) => {
      const started = performance.now();
      try {
        await withTimeout(c.check(), timeoutMs, `${c.name} did not answer within ${timeoutMs} ms`);
        return [c.name, { status: 'ok' as const, latency_ms: Math.round(performance.now() - started) }] as const;
      } catch (error) {
        return [c.name, { status: 'failing' as const, latency_ms: Math.round(performance.now() - started), error: (error as Error).message }] as const;
      }
    }),
  );
  const healthy = entries.every(([name, r]) => r.status === 'ok' || checks.find((c) => c.name === name)?.critical === false);
  return { status: healthy ? 'healthy' : 'unhealthy', version: meta.version, service: meta.service, checks: Object.fromEntries(entries) };
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}

export function databaseCheck(db: { raw(sql: string): PromiseLike<unknown> }): HealthCheck {
  return { name: 'database', check: async () => void (await db.raw('select 1')) };
}

export function relayCheck(relay: { status(): { consecutiveFailures: number; lastError?: string } }): HealthCheck {
  return {
    name: 'event-relay',
    critical: false,
    async check() {
      const s = relay.status();
      if (s.consecutiveFailures >= 3) throw new Error(`publishing is failing: ${s.lastError ?? 'unknown error'}`);
    },
  };
}

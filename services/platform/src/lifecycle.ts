import type { Logger } from '@anb/observability';

/**
 * Orderly shutdown: parts register a stop function as they start; SIGTERM/SIGINT run them in reverse
 * order (stop taking work first, close the database last), with a hard deadline after which the
 * process exits anyway, so an orchestrator's stop never hangs.
 */
export class Lifecycle {
  private readonly parts: { name: string; stop: () => Promise<void> }[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly graceMs = 8000,
  ) {}

  onStop(name: string, stop: () => Promise<void> | void): void {
    this.parts.push({ name, stop: async () => stop() });
  }

  installSignalHandlers(): void {
    const handle = (signal: NodeJS.Signals) => {
      this.logger.info({ signal }, 'stopping');
      void this.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', handle);
    process.once('SIGINT', handle);
  }

  stop(): Promise<void> {
    this.stopping ??= this.runStops();
    return this.stopping;
  }

  private async runStops(): Promise<void> {
    const deadline = setTimeout(() => {
      this.logger.error({ graceMs: this.graceMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, this.graceMs + 2000);
    deadline.unref();
    for (const part of [...this.parts].reverse()) {
      try {
        await part.stop();
      } catch (error) {
        this.logger.error({ err: error, part: part.name }, 'error while stopping');
      }
    }
    // spans and metrics still buffered go out before the process exits
    const telemetry = (globalThis as { __anbTelemetry?: { shutdown(): Promise<void> } }).__anbTelemetry;
    if (telemetry) await Promise.race([telemetry.shutdown().catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
    clearTimeout(deadline);
    this.logger.info('stopped');
  }
}

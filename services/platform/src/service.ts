import { readFileSync } from 'node:fs';
import { createLogger, type Logger } from '@anb/observability';
import { ConfigError } from './config';
import { Lifecycle } from './lifecycle';

/** The version in the package.json next to a service's `src/` folder. */
export function packageVersion(moduleUrl: string): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', moduleUrl), 'utf8')) as { version?: string };
    return process.env.SERVICE_VERSION ?? pkg.version ?? '0.0.0';
  } catch {
    return process.env.SERVICE_VERSION ?? '0.0.0';
  }
}

/**
 * Runs a service's start-up; a failure before it is ready (bad config, database unreachable) is
 * printed plainly — naming the variable for a config problem — and the process exits 1.
 */
export async function runMain(service: string, start: () => Promise<void>): Promise<void> {
  try {
    await start();
  } catch (error) {
    const logger: Logger = createLogger({ service, level: 'info' });
    if (error instanceof ConfigError) {
      logger.fatal({ problems: error.problems }, `${service}: ${error.message}`);
    } else {
      logger.fatal({ err: error }, `${service} failed to start`);
    }
    await new Promise((r) => setTimeout(r, 50));
    process.exit(1);
  }
}

/**
 * What every service sets up first, once its config is read: its version, its logger and its
 * lifecycle (SIGTERM/SIGINT handled, stops run in reverse order within the grace period).
 */
export function serviceRuntime(
  service: string,
  moduleUrl: string,
  config: { LOG_LEVEL: string; SHUTDOWN_GRACE_SECONDS: number },
): { version: string; logger: Logger; lifecycle: Lifecycle } {
  const version = packageVersion(moduleUrl);
  const logger = createLogger({ service, level: config.LOG_LEVEL, version });
  const lifecycle = new Lifecycle(logger, config.SHUTDOWN_GRACE_SECONDS * 1000);
  lifecycle.installSignalHandlers();
  return { version, logger, lifecycle };
}

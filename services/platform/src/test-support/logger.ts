import { createLogger, type Logger } from '@anb/observability';

/** A quiet logger for tests (LOG_LEVEL=debug shows everything). */
export function testLogger(service = 'test'): Logger {
  return createLogger({ service, level: process.env.LOG_LEVEL ?? 'silent' });
}

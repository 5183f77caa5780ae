import { pino, type Logger, type LoggerOptions } from 'pino';
import { activeSpanContext, toXrayTraceId } from './trace-ids';

export type { Logger } from 'pino';

/** Keys whose values never reach a log line (tokens, passwords, keys, cookies). */
export const redactedPaths = [
  'password',
  'password1',
  'password2',
  'passwordHash',
  'token',
  'access_token',
  'authorization',
  'Authorization',
  'cookie',
  'privateKey',
  '*.password',
  '*.password1',
  '*.password2',
  '*.passwordHash',
  '*.token',
  '*.access_token',
  '*.authorization',
  '*.Authorization',
  '*.cookie',
  '*.privateKey',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
];

export interface LoggerConfig {
  service: string;
  level?: string;
  version?: string;
  environment?: string;
  /** where lines go (tests); default stdout */
  destination?: pino.DestinationStream;
}

/**
 * pino JSON logger: every line carries `service`, and — when known — `trace_id`, `span_id` and the X-Ray
 * form `xray_trace_id`. Lines about a request (the access and error lines) carry its `request_id`, given
 * by the HTTP app.
 */
export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level: config.level ?? 'info',
    base: { service: config.service, ...(config.version ? { version: config.version } : {}), ...(config.environment ? { env: config.environment } : {}) },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactedPaths, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    mixin() {
      const fields: Record<string, string> = {};
      const sc = activeSpanContext();
      if (sc) {
        fields.trace_id = sc.traceId;
        fields.span_id = sc.spanId;
        fields.xray_trace_id = toXrayTraceId(sc.traceId);
      }
      return fields;
    },
  };
  return config.destination ? pino(options, config.destination) : pino(options);
}

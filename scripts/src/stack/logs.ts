import { prettyFactory } from 'pino-pretty';

const colours = ['\x1b[36m', '\x1b[35m', '\x1b[33m', '\x1b[32m', '\x1b[34m', '\x1b[91m', '\x1b[96m'];
const reset = '\x1b[0m';

export type LogMode = 'pretty' | 'json' | 'silent';

/**
 * Prefixes every line of a child process with its name (coloured on a terminal) and, in pretty
 * mode, turns pino JSON into a readable line. Non-JSON lines pass through as they are.
 */
export function lineFormatter(name: string, index: number, mode: LogMode, width: number): (line: string) => string | undefined {
  if (mode === 'silent') return () => undefined;
  const tty = process.stdout.isTTY;
  const label = name.padEnd(width);
  const prefix = tty ? `${colours[index % colours.length]}${label}${reset} │ ` : `${label} | `;
  const pretty = prettyFactory({
    colorize: tty,
    translateTime: 'HH:MM:ss.l',
    ignore: 'pid,hostname,service,version,env,trace_id,span_id,xray_trace_id',
    singleLine: true,
  });
  return (line) => {
    if (mode === 'json' || !line.startsWith('{')) return prefix + line;
    try {
      return prefix + pretty(line).trimEnd();
    } catch {
      return prefix + line;
    }
  };
}

/** Splits a stream's chunks into lines. */
export function onLines(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim()) fn(line);
    }
  });
  stream.on('end', () => {
    if (buffered.trim()) fn(buffered);
  });
}

/**
 * How a media input is handed to ffmpeg/ffprobe. Paths are passed as `file:` URLs so a name that starts
 * with `-` or contains `:` is never read as an option or a protocol, and every input gets a protocol
 * whitelist: an uploaded "video" that is really a playlist must not make ffmpeg open other files or hosts.
 */

export interface MediaInput {
  kind: 'file' | 'url';
  /** what goes after `-i` */
  target: string;
  /** input options that go before `-i` */
  options: string[];
  /** safe for logs and error messages: a presigned URL loses its query string (the signature) */
  label: string;
}

export interface MediaInputOptions {
  /** how long a single network read may stall before ffmpeg gives up (URL inputs) */
  ioTimeoutMs?: number;
  /** reconnect when the connection drops mid-read (long downloads, not worth it for a probe) */
  reconnect?: boolean;
}

const remote = /^https?:\/\//i;

export function isRemoteInput(input: string): boolean {
  return remote.test(input);
}

export function mediaInput(input: string, options: MediaInputOptions = {}): MediaInput {
  if (isRemoteInput(input)) {
    const ioTimeoutUs = Math.round((options.ioTimeoutMs ?? 15_000) * 1000);
    return {
      kind: 'url',
      target: input,
      options: [
        '-protocol_whitelist',
        'http,https,tcp,tls',
        '-rw_timeout',
        String(ioTimeoutUs),
        ...(options.reconnect ? ['-reconnect', '1', '-reconnect_delay_max', '5'] : []),
      ],
      label: redactUrl(input),
    };
  }
  const path = input.startsWith('file:') ? input.slice('file:'.length) : input;
  return { kind: 'file', target: `file:${path}`, options: ['-protocol_whitelist', 'file'], label: path };
}

/** Drops credentials and the query string (AWS signatures live there). */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}${parsed.search ? '?…' : ''}`;
  } catch {
    return url.replace(/\?.*$/, '?…');
  }
}

/** ffmpeg quotes its inputs verbatim in messages: strip query strings from any URL in a line. */
export function redactUrlsInText(line: string): string {
  return line.replace(/(https?:\/\/[^\s?'"]+)\?[^\s'"]*/gi, '$1?…');
}

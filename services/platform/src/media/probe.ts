import { z } from 'zod';
import { ffprobePath } from './binaries';
import { runTool, type ToolRun } from './child';
import { mediaInput, redactUrlsInText } from './input';

export type StreamType = 'video' | 'audio' | 'subtitle' | 'data' | 'attachment' | 'unknown';

export interface StreamSummary {
  index: number;
  type: StreamType;
  codec: string | undefined;
  durationSeconds: number | undefined;
}

export interface VideoStreamSummary extends StreamSummary {
  type: 'video';
  /** as displayed: a phone clip stored 1920x1080 with a 90° rotation is 1080 wide, 1920 high */
  width: number;
  height: number;
  /** as stored in the bitstream */
  codedWidth: number;
  codedHeight: number;
  /** clockwise degrees the player turns the picture, from the display matrix or the legacy `rotate` tag */
  rotation: 0 | 90 | 180 | 270;
  pixelFormat: string | undefined;
  frameRate: number | undefined;
}

export interface MediaSummary {
  /** ffprobe's demuxer name, e.g. `mov,mp4,m4a,3gp,3g2,mj2` */
  formatName: string;
  formatNames: readonly string[];
  /** ISO-BMFF major brand (`isom`, `mp42`, `qt`…) when the container has one */
  majorBrand: string | undefined;
  durationSeconds: number | undefined;
  sizeBytes: number | undefined;
  bitRate: number | undefined;
  /** the main picture (cover art attached as a picture stream is skipped) */
  video: VideoStreamSummary | undefined;
  hasAudio: boolean;
  streams: readonly StreamSummary[];
}

export type MediaProbeFailure =
  /** not a media file ffprobe can read: the uploader's problem */
  | 'invalid-media'
  /** missing file, refused connection, HTTP error: our (or the storage's) problem */
  | 'unreadable'
  | 'timeout'
  | 'aborted'
  | 'spawn-failed';

export class MediaProbeError extends Error {
  constructor(
    readonly reason: MediaProbeFailure,
    message: string,
    readonly details: { input: string; exitCode?: number | null; stderrTail?: string[]; cause?: unknown },
  ) {
    super(message, { cause: details.cause });
    this.name = 'MediaProbeError';
  }
}

export interface ProbeOptions {
  signal?: AbortSignal;
  /** the whole probe; a presigned URL that never answers must not hold an upload forever */
  timeoutMs?: number;
}

/** Probes a file path or an http(s) URL (e.g. a presigned S3 URL: ffprobe reads only what it needs, with Range requests). */
export async function probeMedia(input: string, options: ProbeOptions = {}): Promise<MediaSummary> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const source = mediaInput(input, { ioTimeoutMs: Math.min(15_000, timeoutMs) });
  const args = [
    '-hide_banner',
    '-v',
    'error',
    ...source.options,
    '-print_format',
    'json',
    '-show_format',
    '-show_streams',
    source.target,
  ];
  let run: ToolRun;
  try {
    run = await runTool(ffprobePath(), args, { signal: options.signal, timeoutMs, killGraceMs: 0, collectStdout: true });
  } catch (error) {
    throw new MediaProbeError('spawn-failed', `could not start ffprobe: ${(error as Error).message}`, { input: source.label, cause: error });
  }
  const stderrTail = run.stderrTail.map(redactUrlsInText);
  const details = { input: source.label, exitCode: run.code, stderrTail };
  if (run.stopped === 'aborted') {
    throw new MediaProbeError('aborted', `probe of ${source.label} was aborted`, { ...details, cause: options.signal?.reason });
  }
  if (run.stopped === 'timeout') throw new MediaProbeError('timeout', `probe of ${source.label} timed out after ${timeoutMs} ms`, details);
  if (run.code !== 0) {
    const reason = classifyFailure(stderrTail);
    throw new MediaProbeError(reason, `ffprobe could not read ${source.label}: ${lastMeaningfulLine(stderrTail) ?? `exit code ${run.code}`}`, details);
  }
  let json: unknown;
  try {
    json = JSON.parse(run.stdout);
  } catch (error) {
    throw new MediaProbeError('invalid-media', `ffprobe gave no readable description of ${source.label}`, { ...details, cause: error });
  }
  const summary = summariseProbe(json);
  if (!summary) throw new MediaProbeError('invalid-media', `ffprobe found no container in ${source.label}`, details);
  return summary;
}

const invalidMedia = /invalid data found|moov atom not found|could not find codec parameters|ebml header|no such stream|unknown format|not enough|truncat/i;

function classifyFailure(stderrTail: readonly string[]): MediaProbeFailure {
  return stderrTail.some((line) => invalidMedia.test(line)) ? 'invalid-media' : 'unreadable';
}

function lastMeaningfulLine(lines: readonly string[]): string | undefined {
  // ffmpeg prefixes lines with the component (`[mov,mp4,… @ 0x…] `); the last line is the verdict
  const last = lines.at(-1);
  return last?.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/i, '');
}

// ffprobe's JSON: numbers often come as strings, and every field is optional in some container.
const numberish = z.union([z.number(), z.string()]).optional();
const ProbeJson = z.object({
  format: z
    .object({
      format_name: z.string(),
      duration: numberish,
      size: numberish,
      bit_rate: numberish,
      tags: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  streams: z
    .array(
      z.object({
        index: z.number(),
        codec_type: z.string().optional(),
        codec_name: z.string().optional(),
        width: z.number().optional(),
        height: z.number().optional(),
        pix_fmt: z.string().optional(),
        avg_frame_rate: z.string().optional(),
        r_frame_rate: z.string().optional(),
        duration: numberish,
        disposition: z.record(z.string(), z.unknown()).optional(),
        tags: z.record(z.string(), z.unknown()).optional(),
        side_data_list: z.array(z.object({ side_data_type: z.string().optional(), rotation: numberish })).optional(),
      }),
    )
    .default([]),
});

/** ffprobe JSON → summary; undefined when there is no container description at all. Pure, for tests. */
export function summariseProbe(json: unknown): MediaSummary | undefined {
  const parsed = ProbeJson.safeParse(json);
  if (!parsed.success || !parsed.data.format) return undefined;
  const { format, streams } = parsed.data;
  const summaries: StreamSummary[] = streams.map((s) => ({
    index: s.index,
    type: streamType(s.codec_type),
    codec: s.codec_name,
    durationSeconds: toNumber(s.duration),
  }));
  const main = streams.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  let video: VideoStreamSummary | undefined;
  if (main) {
    const rotation = rotationOf(main);
    const codedWidth = main.width ?? 0;
    const codedHeight = main.height ?? 0;
    const sideways = rotation === 90 || rotation === 270;
    video = {
      index: main.index,
      type: 'video',
      codec: main.codec_name,
      durationSeconds: toNumber(main.duration),
      width: sideways ? codedHeight : codedWidth,
      height: sideways ? codedWidth : codedHeight,
      codedWidth,
      codedHeight,
      rotation,
      pixelFormat: main.pix_fmt,
      frameRate: ratio(main.avg_frame_rate) ?? ratio(main.r_frame_rate),
    };
  }
  const streamDurations = summaries.map((s) => s.durationSeconds).filter((d): d is number => d !== undefined);
  const brand = format.tags?.major_brand;
  return {
    formatName: format.format_name,
    formatNames: format.format_name.split(','),
    majorBrand: typeof brand === 'string' && brand.trim() ? brand.trim() : undefined,
    durationSeconds: toNumber(format.duration) ?? (streamDurations.length ? Math.max(...streamDurations) : undefined),
    sizeBytes: toNumber(format.size),
    bitRate: toNumber(format.bit_rate),
    video,
    hasAudio: summaries.some((s) => s.type === 'audio'),
    streams: summaries,
  };
}

function streamType(codecType: string | undefined): StreamType {
  switch (codecType) {
    case 'video':
    case 'audio':
    case 'subtitle':
    case 'data':
    case 'attachment':
      return codecType;
    default:
      return 'unknown';
  }
}

/**
 * Newer ffprobe reports the display matrix as side data, counter-clockwise (`rotation: -90` is a clockwise
 * quarter turn); older ones a `rotate` tag, clockwise (`90`). Both become clockwise degrees.
 */
function rotationOf(stream: {
  tags?: Record<string, unknown> | undefined;
  side_data_list?: { side_data_type?: string | undefined; rotation?: number | string | undefined }[] | undefined;
}): VideoStreamSummary['rotation'] {
  const matrix = stream.side_data_list?.find((d) => d.rotation !== undefined && (d.side_data_type ?? 'Display Matrix') === 'Display Matrix');
  const counterClockwise = toNumber(matrix?.rotation);
  const tag = typeof stream.tags?.rotate === 'string' ? toNumber(stream.tags.rotate) : undefined;
  const clockwise = counterClockwise !== undefined ? -counterClockwise : (tag ?? 0);
  return ((((Math.round(clockwise / 90) * 90) % 360) + 360) % 360) as VideoStreamSummary['rotation'];
}

function toNumber(value: number | string | undefined): number | undefined {
  if (value === undefined || value === '' || value === 'N/A') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function ratio(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const [num, den] = value.split('/').map(Number);
  if (num === undefined || !Number.isFinite(num)) return undefined;
  if (den === undefined) return num;
  return den > 0 && num > 0 ? num / den : undefined;
}

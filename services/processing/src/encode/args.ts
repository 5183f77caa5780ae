/**
 * The ffmpeg command line for one processed video: the contract with ffmpeg, built by a pure function so
 * every option can be tested without running it. One pass, one filter graph:
 *
 *   [opening bumper] + [source, first 30 s, fitted into 1280x720, watermarked] + [closing bumper]
 *
 * Every part is normalised the same way before the concat (size, pad, SAR, frame rate, pixel format),
 * because concat demands identical parts. Video only: the output has no audio stream at all.
 */

export const x264Presets = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'] as const;
export type X264Preset = (typeof x264Presets)[number];

export interface EncodeSettings {
  preset: X264Preset;
  /** x264 constant rate factor, 0–51 (lower is better and bigger) */
  crf: number;
  /** encoder and filter threads; 0 lets ffmpeg pick (one per core) */
  threads: number;
  fps: number;
  width: number;
  height: number;
  /** only this much of the source is read */
  maxSeconds: number;
  /** each of the opening and closing bumpers */
  bumperSeconds: number;
}

export const defaultEncodeSettings: EncodeSettings = {
  preset: 'veryfast',
  crf: 23,
  threads: 0,
  fps: 30,
  width: 1280,
  height: 720,
  maxSeconds: 30,
  bumperSeconds: 2.5,
};

export interface EncodeAssets {
  /** PNG with alpha, centred on the bumpers */
  logoPng: string;
  /** small PNG with alpha, in a corner of the main part */
  watermarkPng: string;
}

export interface EncodeJob {
  /** a local path or an http(s) URL (e.g. a presigned S3 URL) */
  source: string;
  outputPath: string;
  assets: EncodeAssets;
  settings: EncodeSettings;
  /**
   * What the ffmpeg binary understands (`ffmpegFeatures()` from the platform): `-fps_mode` exists from
   * ffmpeg 5.1 and `-vsync` was removed in 9, so neither works everywhere. Defaults to `-vsync`, which the
   * bundled (2018) build needs.
   */
  ffmpeg?: { fpsMode: boolean };
}

export class InvalidEncodeSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidEncodeSettingsError';
  }
}

/** Distance of the watermark from the bottom-right corner, in output pixels. */
export const watermarkMargin = 24;

/** How long the output must be for a source of this length: the cut main part plus both bumpers. */
export function expectedOutputSeconds(sourceSeconds: number, settings: Pick<EncodeSettings, 'maxSeconds' | 'bumperSeconds'>): number {
  return Math.min(sourceSeconds, settings.maxSeconds) + 2 * settings.bumperSeconds;
}

export function buildEncodeArgs(job: EncodeJob): string[] {
  const { settings, assets } = job;
  checkSettings(settings);
  const { width: w, height: h, fps } = settings;
  const remote = /^https?:\/\//i.test(job.source);

  // Every part of the concat goes through the same chain, so they match exactly.
  const normalise = [
    `fps=${fps}`,
    `scale=${w}:${h}:force_original_aspect_ratio=decrease`,
    `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2:color=black`,
    'setsar=1',
    'format=yuv420p',
  ].join(',');
  const bumper = `color=c=black:s=${w}x${h}:r=${fps}:d=${seconds(settings.bumperSeconds)}`;

  const graph = [
    // main: timestamps from zero (sources with edit lists start later), fps first so a 60 fps source
    // is halved before it is scaled, then fitted (letterbox/pillarbox, never stretched)
    `[0:v]setpts=PTS-STARTPTS,${normalise}[fitted]`,
    `[fitted][2:v]overlay=x=W-w-${watermarkMargin}:y=H-h-${watermarkMargin}[main]`,
    // one logo frame, used by both bumpers
    '[1:v]split=2[logo_open][logo_close]',
    `[3:v]${normalise}[bg_open]`,
    '[bg_open][logo_open]overlay=x=(W-w)/2:y=(H-h)/2[opening]',
    `[4:v]${normalise}[bg_close]`,
    '[bg_close][logo_close]overlay=x=(W-w)/2:y=(H-h)/2[closing]',
    '[opening][main][closing]concat=n=3:v=1:a=0[out]',
  ].join(';');

  return [
    // 0: the source. Its container is forced to MP4 (it passed the upload checks as one): a file that is
    // really a playlist or a concat script must not be interpreted. Cut on input: the rest is never read.
    '-protocol_whitelist',
    remote ? 'http,https,tcp,tls' : 'file',
    ...(remote ? ['-rw_timeout', '30000000', '-reconnect', '1', '-reconnect_delay_max', '5'] : []),
    '-f',
    'mov',
    '-t',
    seconds(settings.maxSeconds),
    '-i',
    remote ? job.source : fileUrl(job.source),
    // 1: logo, 2: watermark (single PNG frames; overlay keeps showing the last frame)
    '-i',
    fileUrl(assets.logoPng),
    '-i',
    fileUrl(assets.watermarkPng),
    // 3, 4: the bumper backgrounds, generated
    '-f',
    'lavfi',
    '-i',
    bumper,
    '-f',
    'lavfi',
    '-i',
    bumper,
    '-filter_complex',
    graph,
    ...(settings.threads > 0 ? ['-filter_complex_threads', String(settings.threads)] : []),
    '-map',
    '[out]',
    // no audio, subtitles, data tracks, chapters or source metadata (a phone's GPS position) in the output
    '-an',
    '-sn',
    '-dn',
    '-map_metadata',
    '-1',
    '-map_chapters',
    '-1',
    '-c:v',
    'libx264',
    '-preset',
    settings.preset,
    '-crf',
    String(settings.crf),
    '-pix_fmt',
    'yuv420p',
    '-threads',
    String(settings.threads),
    '-r',
    String(fps),
    ...(job.ffmpeg?.fpsMode ? ['-fps_mode', 'cfr'] : ['-vsync', 'cfr']),
    '-movflags',
    '+faststart',
    '-f',
    'mp4',
    '-y',
    fileUrl(job.outputPath),
  ];
}

function checkSettings(s: EncodeSettings): void {
  const problems: string[] = [];
  if (!x264Presets.includes(s.preset)) problems.push(`preset must be one of ${x264Presets.join(', ')}`);
  if (!Number.isInteger(s.crf) || s.crf < 0 || s.crf > 51) problems.push('crf must be an integer from 0 to 51');
  if (!Number.isInteger(s.threads) || s.threads < 0) problems.push('threads must be a non-negative integer (0 = auto)');
  if (!Number.isInteger(s.fps) || s.fps <= 0 || s.fps > 120) problems.push('fps must be an integer from 1 to 120');
  // yuv420p needs even dimensions
  for (const [name, v] of [['width', s.width], ['height', s.height]] as const) {
    if (!Number.isInteger(v) || v < 2 || v % 2 !== 0) problems.push(`${name} must be a positive even integer`);
  }
  if (!(s.maxSeconds > 0)) problems.push('maxSeconds must be positive');
  if (!(s.bumperSeconds > 0)) problems.push('bumperSeconds must be positive');
  if (problems.length) throw new InvalidEncodeSettingsError(`invalid encode settings: ${problems.join('; ')}`);
}

/** Paths as `file:` URLs: a name starting with `-` or containing `:` is never an option or a protocol. */
function fileUrl(path: string): string {
  return path.startsWith('file:') ? path : `file:${path}`;
}

/** Seconds as ffmpeg reads them, without float noise (2.5 → "2.5", 30 → "30"). */
function seconds(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}

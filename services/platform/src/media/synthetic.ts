import { rm } from 'node:fs/promises';
import { ffmpegFeatures, runFfmpeg } from './ffmpeg';

/**
 * Generated test clips (ffmpeg's `testsrc2` picture and a `sine` tone) for tests, demo data and
 * benchmarks: no sample videos are downloaded or committed. Cheap by default (5 fps, ultrafast).
 */
export interface SyntheticVideo {
  width: number;
  height: number;
  seconds: number;
  fps?: number;
  audio?: boolean;
  container?: 'mp4' | 'webm';
  /** display rotation in clockwise degrees written into the container, like a phone held sideways */
  rotation?: 0 | 90 | 180 | 270;
  /** write the index (moov) first; phones usually write it last */
  faststart?: boolean;
}

export async function renderSyntheticVideo(outputPath: string, spec: SyntheticVideo, options: { timeoutMs?: number } = {}): Promise<void> {
  const { width, height, seconds, fps = 5, audio = true, container = 'mp4', rotation = 0 } = spec;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const inputs = ['-f', 'lavfi', '-i', `testsrc2=s=${width}x${height}:r=${fps}:d=${seconds}`];
  if (audio) inputs.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:d=${seconds}`);
  // a bitrate that keeps files small but still decodable at every size
  const videoKbps = Math.max(100, Math.round((width * height * fps) / 50_000));
  const codecs =
    container === 'mp4'
      ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-b:v', `${videoKbps}k`, ...(audio ? ['-c:a', 'aac', '-b:a', '64k'] : [])]
      : ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', `${videoKbps}k`, ...(audio ? ['-c:a', 'libopus', '-b:a', '48k'] : [])];
  const target = rotation ? `${outputPath}.unrotated.${container}` : outputPath;
  await runFfmpeg(
    [...inputs, ...codecs, ...(spec.faststart ? ['-movflags', '+faststart'] : []), '-f', container, '-y', `file:${target}`],
    { timeoutMs },
  );
  if (rotation) {
    try {
      await writeRotation(target, outputPath, rotation, timeoutMs);
    } finally {
      await rm(target, { force: true });
    }
  }
}

/**
 * Rotation is container metadata, set by remuxing (an encode would drop it). ffmpeg up to 5.x writes it
 * from the `rotate` tag; newer builds ignore that tag and take `-display_rotation` (counter-clockwise).
 */
async function writeRotation(input: string, output: string, clockwise: number, timeoutMs: number): Promise<void> {
  const modern = (await ffmpegFeatures()).fpsMode;
  const args = modern
    ? ['-display_rotation:v:0', String(-clockwise), '-i', `file:${input}`, '-c', 'copy', '-f', 'mp4', '-y', `file:${output}`]
    : ['-i', `file:${input}`, '-c', 'copy', '-metadata:s:v:0', `rotate=${clockwise}`, '-f', 'mp4', '-y', `file:${output}`];
  await runFfmpeg(args, { timeoutMs });
}

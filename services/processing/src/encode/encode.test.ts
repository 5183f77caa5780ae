import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { probeMedia, renderSyntheticVideo, runFfmpeg, runningMediaProcesses } from '@anb/platform/media';
import { defaultEncodeSettings, type EncodeSettings } from './args';
import { encodeVideo } from './encode';
import { isFastStart, topLevelBoxes } from './verify';

/**
 * Real encodes of generated clips, checked from the outside: ffprobe for the stream facts, decoded
 * frames for what the picture looks like, the box order for faststart. Kept cheap: 5 fps sources,
 * ultrafast, 2 s clips where only the picture geometry matters.
 */

const fast: EncodeSettings = { ...defaultEncodeSettings, preset: 'ultrafast' };
const [W, H] = [1280, 720];
let dir: string;
const file = (name: string) => join(dir, name);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'anb-encode-'));
  await Promise.all([
    renderSyntheticVideo(file('main.mp4'), { width: 1920, height: 1080, seconds: 22 }),
    renderSyntheticVideo(file('long.mp4'), { width: 1920, height: 1080, seconds: 45 }),
  ]);
  await Promise.all([
    renderSyntheticVideo(file('portrait.mp4'), { width: 1080, height: 1920, seconds: 2, audio: false }),
    renderSyntheticVideo(file('four-three.mp4'), { width: 1440, height: 1080, seconds: 2, audio: false }),
    renderSyntheticVideo(file('sideways.mp4'), { width: 1920, height: 1080, seconds: 2, audio: false, rotation: 90 }),
  ]);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
  assert.equal(runningMediaProcesses(), 0, 'no ffmpeg left running');
});

/** One decoded output frame as packed RGB. */
async function frameAt(video: string, seconds: number): Promise<(x: number, y: number) => [number, number, number]> {
  const raw = file(`frame-${seconds}-${Math.random().toString(36).slice(2)}.rgb`);
  await runFfmpeg(['-ss', String(seconds), '-i', `file:${video}`, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-y', `file:${raw}`], {
    timeoutMs: 20_000,
  });
  const rgb = await readFile(raw);
  assert.equal(rgb.length, W * H * 3, 'a full 1280x720 frame');
  return (x, y) => {
    const i = (y * W + x) * 3;
    return [rgb[i]!, rgb[i + 1]!, rgb[i + 2]!];
  };
}

type Pixel = Awaited<ReturnType<typeof frameAt>>;

/** Brightest channel over a grid of points in a rectangle: black padding stays near 16 at most. */
function brightest(pixel: Pixel, x0: number, y0: number, x1: number, y1: number): number {
  let max = 0;
  for (let y = y0; y < y1; y += 8) for (let x = x0; x < x1; x += 8) max = Math.max(max, ...pixel(x, y));
  return max;
}

/** Mean of all channels over a grid of points in a rectangle. */
function mean(pixel: Pixel, x0: number, y0: number, x1: number, y1: number): number {
  let [sum, n] = [0, 0];
  for (let y = y0; y < y1; y += 8) {
    for (let x = x0; x < x1; x += 8) {
      const [r, g, b] = pixel(x, y);
      sum += r + g + b;
      n += 3;
    }
  }
  return sum / n;
}

const isBlack = (p: [number, number, number]) => Math.max(...p) <= 24;

describe('encodeVideo on a 1080p 22 s clip with audio', () => {
  let output: string;
  let result: Awaited<ReturnType<typeof encodeVideo>>;
  const fractions: number[] = [];

  before(async () => {
    output = file('main-out.mp4');
    const source = await probeMedia(file('main.mp4'));
    assert.equal(source.hasAudio, true);
    result = await encodeVideo(
      { source: file('main.mp4'), sourceSeconds: source.durationSeconds!, outputPath: output, settings: fast },
      { timeoutMs: 120_000, onProgress: (p) => fractions.push(p.fraction) },
    );
  });

  test('is h264 1280x720 yuv420p at a constant 30 fps, without any audio stream', () => {
    const { summary } = result;
    assert.equal(summary.video?.codec, 'h264');
    assert.deepEqual([summary.video?.width, summary.video?.height], [W, H]);
    assert.equal(summary.video?.pixelFormat, 'yuv420p');
    assert.equal(summary.video?.frameRate, 30);
    assert.equal(summary.hasAudio, false);
    assert.deepEqual(summary.streams.map((s) => s.type), ['video']);
  });

  test('lasts the source plus 5 s of bumpers (±0.3 s)', () => {
    assert.equal(result.expectedSeconds, 27);
    assert.ok(Math.abs(result.summary.durationSeconds! - 27) <= 0.3, `duration ${result.summary.durationSeconds}`);
  });

  test('has moov before mdat (+faststart)', async () => {
    const types = (await topLevelBoxes(output)).map((b) => b.type);
    assert.equal(types[0], 'ftyp');
    assert.ok(types.indexOf('moov') < types.indexOf('mdat'), types.join(' '));
    assert.equal(await isFastStart(output), true);
  });

  test('reported progress up to the end', () => {
    assert.ok(fractions.length > 0);
    assert.ok(fractions.at(-1)! > 0.9, `last progress ${fractions.at(-1)}`);
  });

  test('opens and closes with the logo centred on black', async () => {
    for (const t of [1, 25.5]) {
      const pixel = await frameAt(output, t);
      assert.ok(!isBlack(pixel(640, 360)), `logo in the centre at ${t} s`);
      assert.ok(isBlack(pixel(20, 20)) && isBlack(pixel(1260, 700)), `black corners at ${t} s`);
    }
  });
});

test('a 45 s source is cut to 30 s: 35 s out (±0.3), veryfast', async (t) => {
  const output = file('long-out.mp4');
  const { summary, elapsedMs } = await encodeVideo(
    { source: file('long.mp4'), sourceSeconds: 45, outputPath: output, settings: { ...defaultEncodeSettings, preset: 'veryfast' } },
    { timeoutMs: 180_000 },
  );
  assert.ok(Math.abs(summary.durationSeconds! - 35) <= 0.3, `duration ${summary.durationSeconds}`);
  assert.equal(summary.hasAudio, false);
  t.diagnostic(`45 s 1080p (5 fps) source → 35 s 720p, preset veryfast: ${(elapsedMs / 1000).toFixed(1)} s, ${((await stat(output)).size / 1e6).toFixed(2)} MB`);
});

describe('other shapes are fitted, never stretched', () => {
  // at 3.5 s: one second into the main part
  const mainPartAt = 3.5;

  test('a portrait 1080x1920 clip is pillarboxed, with the watermark on the padding', async () => {
    const output = file('portrait-out.mp4');
    await encodeVideo({ source: file('portrait.mp4'), sourceSeconds: 2, outputPath: output, settings: fast }, { timeoutMs: 60_000 });
    const pixel = await frameAt(output, mainPartAt);
    // 1080x1920 fits as 405x720, centred: picture from x≈437 to x≈842
    assert.ok(brightest(pixel, 0, 0, 420, 600) <= 24, 'left padding is black');
    assert.ok(brightest(pixel, 860, 0, 1100, 600) <= 24, 'right padding is black');
    assert.ok(mean(pixel, 460, 40, 820, 680) > 40, 'the picture is there');
    // watermark: bottom-right corner, over black padding here, so visible; not on the bumpers
    const [wx, wy] = [W - 24 - 160 + 32, H - 24 - 30];
    assert.ok(!isBlack(pixel(wx, wy)), 'watermark in the corner of the main part');
    assert.ok(isBlack((await frameAt(output, 1))(wx, wy)), 'no watermark on the opening bumper');
  });

  test('a phone clip stored landscape with a 90° rotation is shown upright (portrait, pillarboxed)', async () => {
    const output = file('sideways-out.mp4');
    const { summary } = await encodeVideo({ source: file('sideways.mp4'), sourceSeconds: 2, outputPath: output, settings: fast }, { timeoutMs: 60_000 });
    assert.equal(summary.video?.rotation, 0, 'the output carries no rotation');
    const pixel = await frameAt(output, mainPartAt);
    assert.ok(brightest(pixel, 0, 0, 420, 600) <= 24, 'left padding is black');
    assert.ok(mean(pixel, 460, 40, 820, 680) > 40, 'the picture is there');
  });

  describe('over http (presigned URL)', () => {
    let server: Server;
    let base: string;

    before(async () => {
      // Range-capable, like S3: mp4 demuxing seeks
      server = createServer((req, res) => {
        const path = file(new URL(req.url ?? '/', 'http://x').pathname.slice(1));
        stat(path).then(
          ({ size }) => {
            const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
            const start = range ? Number(range[1]) : 0;
            const end = range?.[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
            if (start >= size) return void res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
            res.writeHead(range ? 206 : 200, {
              'Accept-Ranges': 'bytes',
              'Content-Length': String(end - start + 1),
              ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
            });
            createReadStream(path, { start, end }).pipe(res);
          },
          () => res.writeHead(404).end(),
        );
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    after(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    test('a 4:3 clip read from a URL is pillarboxed', async () => {
      const output = file('four-three-out.mp4');
      await encodeVideo(
        { source: `${base}/four-three.mp4?X-Amz-Signature=abc`, sourceSeconds: 2, outputPath: output, settings: fast },
        { timeoutMs: 60_000 },
      );
      const pixel = await frameAt(output, mainPartAt);
      // 1440x1080 fits as 960x720: padding 160 px each side
      assert.ok(brightest(pixel, 0, 0, 150, 600) <= 24, 'left padding is black');
      assert.ok(brightest(pixel, 1130, 0, 1280, 600) <= 24, 'right padding is black');
      assert.ok(mean(pixel, 180, 40, 1100, 680) > 40, 'the picture fills the middle');
      assert.ok(!isBlack(pixel(175, 360)) || !isBlack(pixel(175, 200)), 'the picture reaches its left edge (not shrunk further)');
    });
  });
});

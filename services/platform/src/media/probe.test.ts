import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runningMediaProcesses } from './child';
import { MediaProbeError, probeMedia, summariseProbe } from './probe';
import { checkUploadRules, notMp4Message } from './rules';
import { renderSyntheticVideo } from './synthetic';

describe('summariseProbe (ffprobe JSON → summary)', () => {
  const format = { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '21.000000', size: '1050468', bit_rate: '400000', tags: { major_brand: 'isom' } };
  const video = { index: 0, codec_type: 'video', codec_name: 'h264', width: 1920, height: 1080, pix_fmt: 'yuv420p', avg_frame_rate: '30000/1001', duration: '21.0' };

  test('reads format, brand, duration, size and streams', () => {
    const summary = summariseProbe({ format, streams: [video, { index: 1, codec_type: 'audio', codec_name: 'aac', duration: '20.9' }] });
    assert.deepEqual(summary, {
      formatName: 'mov,mp4,m4a,3gp,3g2,mj2',
      formatNames: ['mov', 'mp4', 'm4a', '3gp', '3g2', 'mj2'],
      majorBrand: 'isom',
      durationSeconds: 21,
      sizeBytes: 1050468,
      bitRate: 400000,
      video: {
        index: 0,
        type: 'video',
        codec: 'h264',
        durationSeconds: 21,
        width: 1920,
        height: 1080,
        codedWidth: 1920,
        codedHeight: 1080,
        rotation: 0,
        pixelFormat: 'yuv420p',
        frameRate: 30000 / 1001,
      },
      hasAudio: true,
      streams: [
        { index: 0, type: 'video', codec: 'h264', durationSeconds: 21 },
        { index: 1, type: 'audio', codec: 'aac', durationSeconds: 20.9 },
      ],
    });
  });

  test('a display matrix turned a quarter makes a landscape-coded phone clip portrait', () => {
    const matrix = { ...video, side_data_list: [{ side_data_type: 'Display Matrix', displaymatrix: '…', rotation: -90 }] };
    const summary = summariseProbe({ format, streams: [matrix] })!;
    assert.deepEqual([summary.video?.width, summary.video?.height, summary.video?.rotation], [1080, 1920, 90]);
    const other = summariseProbe({ format, streams: [{ ...matrix, side_data_list: [{ side_data_type: 'Display Matrix', rotation: 90 }] }] })!;
    assert.deepEqual([other.video?.width, other.video?.height, other.video?.rotation], [1080, 1920, 270]);
    const upsideDown = summariseProbe({ format, streams: [{ ...matrix, side_data_list: [{ side_data_type: 'Display Matrix', rotation: 180 }] }] })!;
    assert.deepEqual([upsideDown.video?.width, upsideDown.video?.height], [1920, 1080]);
  });

  test('the legacy rotate tag (older ffprobe) is honoured too', () => {
    const summary = summariseProbe({ format, streams: [{ ...video, tags: { rotate: '90' } }] })!;
    assert.deepEqual([summary.video?.width, summary.video?.height, summary.video?.rotation], [1080, 1920, 90]);
  });

  test('cover art is not the video; missing durations fall back to the streams', () => {
    const cover = { index: 0, codec_type: 'video', codec_name: 'mjpeg', width: 600, height: 600, disposition: { attached_pic: 1 } };
    const summary = summariseProbe({
      format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: 'N/A' },
      streams: [cover, { index: 1, codec_type: 'audio', codec_name: 'aac', duration: '33.5' }],
    })!;
    assert.equal(summary.video, undefined);
    assert.equal(summary.durationSeconds, 33.5);
    assert.equal(summary.majorBrand, undefined);
  });

  test('no container description means no summary', () => {
    assert.equal(summariseProbe({}), undefined);
    assert.equal(summariseProbe('nope'), undefined);
  });
});

describe('probeMedia on generated clips', () => {
  let dir: string;
  const clip = (name: string) => join(dir, name);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'anb-probe-'));
    // two at a time: this machine has two cores
    await Promise.all([
      renderSyntheticVideo(clip('valid.mp4'), { width: 1920, height: 1080, seconds: 21 }),
      renderSyntheticVideo(clip('portrait.mp4'), { width: 1080, height: 1920, seconds: 21 }),
    ]);
    await Promise.all([
      renderSyntheticVideo(clip('720p.mp4'), { width: 1280, height: 720, seconds: 21 }),
      renderSyntheticVideo(clip('short.mp4'), { width: 1920, height: 1080, seconds: 15 }),
      renderSyntheticVideo(clip('clip.webm'), { width: 320, height: 240, seconds: 2, container: 'webm' }),
      renderSyntheticVideo(clip('sideways.mp4'), { width: 320, height: 180, seconds: 1, audio: false, rotation: 90 }),
      writeFile(clip('random.mp4'), randomBytes(64 * 1024)),
    ]);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
    assert.equal(runningMediaProcesses(), 0);
  });

  test('a 1920x1080 21 s MP4 with audio passes the upload rules', async () => {
    const summary = await probeMedia(clip('valid.mp4'));
    assert.equal(summary.formatName, 'mov,mp4,m4a,3gp,3g2,mj2');
    assert.equal(summary.majorBrand, 'isom');
    assert.ok(Math.abs(summary.durationSeconds! - 21) < 0.1, `duration ${summary.durationSeconds}`);
    assert.equal(summary.sizeBytes, (await stat(clip('valid.mp4'))).size);
    assert.deepEqual([summary.video?.codec, summary.video?.width, summary.video?.height, summary.video?.rotation], ['h264', 1920, 1080, 0]);
    assert.equal(summary.hasAudio, true);
    assert.deepEqual(summary.streams.map((s) => s.type), ['video', 'audio']);
    assert.deepEqual(checkUploadRules(summary), { ok: true });
  });

  test('a 1080x1920 portrait clip counts as 1080p', async () => {
    const summary = await probeMedia(clip('portrait.mp4'));
    assert.deepEqual([summary.video?.width, summary.video?.height], [1080, 1920]);
    assert.deepEqual(checkUploadRules(summary), { ok: true });
  });

  test('rotation metadata turns the reported picture', async () => {
    const summary = await probeMedia(clip('sideways.mp4'));
    assert.deepEqual([summary.video?.codedWidth, summary.video?.codedHeight], [320, 180]);
    assert.deepEqual([summary.video?.width, summary.video?.height], [180, 320]);
    assert.ok(summary.video?.rotation === 90 || summary.video?.rotation === 270);
    assert.equal(summary.hasAudio, false);
  });

  test('a 720p clip fails the resolution rule', async () => {
    const result = checkUploadRules(await probeMedia(clip('720p.mp4')));
    assert.equal(result.ok, false);
    assert.deepEqual(result.ok ? undefined : [result.rule, result.message.includes('1080p'), result.message.includes('1280x720')], ['resolution', true, true]);
  });

  test('a 15 s clip fails the duration rule', async () => {
    const result = checkUploadRules(await probeMedia(clip('short.mp4')));
    assert.deepEqual(result, { ok: false, rule: 'duration', message: 'La duración del video debe estar entre 20 y 60 segundos; el archivo dura 15 s.' });
  });

  test('a WebM is probed but is not an MP4', async () => {
    const summary = await probeMedia(clip('clip.webm'));
    assert.deepEqual(summary.formatNames, ['matroska', 'webm']);
    assert.deepEqual(checkUploadRules(summary), { ok: false, rule: 'container', message: notMp4Message });
  });

  test('random bytes named .mp4 are invalid media with a readable reason', async () => {
    await assert.rejects(probeMedia(clip('random.mp4')), (e: unknown) => {
      assert.ok(e instanceof MediaProbeError);
      assert.equal(e.reason, 'invalid-media');
      assert.match(e.message, /^ffprobe could not read .*random\.mp4: .*(Invalid data|moov atom)/);
      return true;
    });
  });

  test('a missing file is unreadable, not invalid media', async () => {
    await assert.rejects(probeMedia(clip('missing.mp4')), { name: 'MediaProbeError', reason: 'unreadable' });
  });

  test('an aborted probe rejects as aborted', async () => {
    await assert.rejects(probeMedia(clip('valid.mp4'), { signal: AbortSignal.abort() }), { name: 'MediaProbeError', reason: 'aborted' });
  });

  describe('over http (a presigned URL)', () => {
    let server: Server;
    let base: string;
    const requests: { path: string; range: string | undefined }[] = [];

    before(async () => {
      // serves the temp dir with Range support, like S3; the index (moov) of these clips is at the end
      server = createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        requests.push({ path: url.pathname, range: req.headers.range });
        if (url.searchParams.get('X-Amz-Signature') !== 'sig') return void res.writeHead(403).end('<Error>SignatureDoesNotMatch</Error>');
        const file = clip(url.pathname.slice(1));
        stat(file).then(
          ({ size }) => {
            const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
            const start = range ? Number(range[1]) : 0;
            const end = range?.[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
            if (start >= size) return void res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
            res.writeHead(range ? 206 : 200, {
              'Content-Type': 'video/mp4',
              'Accept-Ranges': 'bytes',
              'Content-Length': String(end - start + 1),
              ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
            });
            if (req.method === 'HEAD') return void res.end();
            createReadStream(file, { start, end }).pipe(res);
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

    test('probes the URL, reading the end of the file through Range requests', async () => {
      const summary = await probeMedia(`${base}/valid.mp4?X-Amz-Signature=sig&X-Amz-Expires=300`);
      assert.deepEqual([summary.video?.width, summary.video?.height, summary.hasAudio], [1920, 1080, true]);
      assert.deepEqual(checkUploadRules(summary), { ok: true });
      assert.ok(
        requests.some((r) => r.path === '/valid.mp4' && r.range && !r.range.startsWith('bytes=0-')),
        'ffprobe seeked with a Range request',
      );
    });

    test('an HTTP error is unreadable and the signature is not in the message', async () => {
      await assert.rejects(probeMedia(`${base}/valid.mp4?X-Amz-Signature=wrong`), (e: unknown) => {
        assert.ok(e instanceof MediaProbeError);
        assert.equal(e.reason, 'unreadable');
        assert.match(e.message, /403/);
        assert.doesNotMatch(`${e.message} ${e.details.stderrTail?.join(' ')}`, /wrong/);
        return true;
      });
    });
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@anb/platform/local';
import { probeMedia, runFfmpeg } from '@anb/platform/media';
import { isFastStart } from '@anb/processing/encode';
import { testClip, uploadForm } from './media';
import { startTestStack, type TestStack } from './support';

/**
 * The whole video journey on the real stack: upload through the gateway → processing with ffmpeg →
 * published → the rendition downloaded through its signed link and checked with ffprobe.
 */
let stack: TestStack;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'anb-pipeline-'));
  stack = await startTestStack({ services: ['auth', 'video-catalog', 'processing', 'gateway'] });
});
after(async () => {
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function uploadAndWait(token: string, file: string, title: string) {
  const res = await stack.api.request('POST', '/api/videos/upload', { token, body: await uploadForm(file, { title }) });
  assert.equal(res.status, 201, res.text);
  const videoId = res.body.video_id as string;
  const seen = new Set<string>();
  const item = await waitFor(
    async () => {
      const list = await stack.api.get('/api/videos', token);
      const v = list.body.find((x: { video_id: string }) => x.video_id === videoId);
      if (v) seen.add(v.status);
      if (v?.status === 'failed') throw new Error(`processing failed: ${v.failure_reason}`);
      return v?.status === 'processed' ? v : undefined;
    },
    { timeoutMs: 240_000, intervalMs: 250, message: `${title} processed` },
  );
  return { videoId, item, seen };
}

async function download(url: string, name: string): Promise<string> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  const path = join(work, name);
  writeFileSync(path, Buffer.from(await res.arrayBuffer()));
  return path;
}

describe('upload → processed → published', () => {
  test('a 22 s 1080p clip with sound becomes 27 s of silent 720p h264 with bumpers, streamable at once', async () => {
    const [player, source] = await Promise.all([stack.api.newPlayer(), testClip({ width: 1920, height: 1080, seconds: 22, audio: true })]);
    const { videoId, item, seen } = await uploadAndWait(player.token, source, 'Volcada');
    assert.ok([...seen].every((s) => ['uploaded', 'processing', 'processed'].includes(s)));
    assert.equal(typeof item.processed_at, 'string');
    const file = await download(item.processed_url, `${videoId}.mp4`);
    const summary = await probeMedia(file);
    assert.equal(summary.video?.codec, 'h264');
    assert.equal(summary.video?.width, 1280);
    assert.equal(summary.video?.height, 720);
    assert.equal(summary.hasAudio, false);
    assert.ok(Math.abs((summary.durationSeconds ?? 0) - 27) <= 0.3, `duration ${summary.durationSeconds}`);
    assert.ok(await isFastStart(file), 'moov before mdat');

    const detail = await stack.api.get(`/api/videos/${videoId}`, player.token);
    assert.equal(detail.body.status, 'processed');
    assert.equal((await stack.api.request('DELETE', `/api/videos/${videoId}`, { token: player.token })).body.code, 'VIDEO_PUBLISHED');
  });

  test('a 45 s source is cut to 30 s: 35 s with the bumpers', async () => {
    const [player, source] = await Promise.all([stack.api.newPlayer(), testClip({ width: 1920, height: 1080, seconds: 45, audio: false })]);
    const { videoId, item } = await uploadAndWait(player.token, source, 'Larga');
    const summary = await probeMedia(await download(item.processed_url, `${videoId}-long.mp4`));
    assert.ok(Math.abs((summary.durationSeconds ?? 0) - 35) <= 0.3, `duration ${summary.durationSeconds}`);
  });

  test('a portrait source is pillarboxed with black, not stretched', async () => {
    const [player, source] = await Promise.all([stack.api.newPlayer(), testClip({ width: 1080, height: 1920, seconds: 21, audio: false })]);
    const { videoId, item } = await uploadAndWait(player.token, source, 'Vertical');
    const file = await download(item.processed_url, `${videoId}-portrait.mp4`);
    const raw = join(work, `${videoId}.rgb`);
    // a frame of the main part (after the 2.5 s opening bumper)
    await runFfmpeg(['-ss', '8', '-i', `file:${file}`, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-y', `file:${raw}`], { timeoutMs: 30_000 });
    const rgb = readFileSync(raw);
    assert.equal(rgb.length, 1280 * 720 * 3);
    const pixel = (x: number, y: number) => [rgb[(y * 1280 + x) * 3]!, rgb[(y * 1280 + x) * 3 + 1]!, rgb[(y * 1280 + x) * 3 + 2]!];
    // 1080x1920 fits 720 high as 405 wide, centred: columns 0–437 and 843–1279 are padding
    for (const [x, y] of [[60, 360], [200, 100], [1200, 600]] as const) assert.ok(Math.max(...pixel(x, y)) <= 24, `padding at ${x},${y} is black: ${pixel(x, y)}`);
    const centre = [0, 1, 2, 3, 4].map((i) => Math.max(...pixel(560 + i * 40, 360)));
    assert.ok(Math.max(...centre) > 60, 'the picture is in the middle');
  });
});

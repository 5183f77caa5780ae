import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { probeMedia, runFfmpeg } from '@anb/platform/media';
import { anbAssets } from './assets';

const alphaFormats = ['rgba', 'rgba64be', 'ya8', 'ya16be', 'pal8'];
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'anb-assets-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The alpha values of a PNG, decoded by ffmpeg. */
async function alphaOf(png: string): Promise<Uint8Array> {
  const raw = join(dir, 'alpha.raw');
  await runFfmpeg(['-i', `file:${png}`, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgba', '-y', `file:${raw}`], { timeoutMs: 20_000 });
  const rgba = await readFile(raw);
  return Uint8Array.from({ length: rgba.length / 4 }, (_, i) => rgba[i * 4 + 3]!);
}

test('the asset paths resolve next to the package, whatever the working directory', () => {
  assert.match(anbAssets.logoPng, /services\/processing\/assets\/anb-logo\.png$/);
  assert.match(anbAssets.watermarkPng, /services\/processing\/assets\/anb-watermark\.png$/);
});

for (const [name, path, size] of [
  ['logo', anbAssets.logoPng, [400, 400]],
  ['watermark', anbAssets.watermarkPng, [160, 60]],
] as const) {
  test(`the ${name} is a small PNG with a real alpha channel`, async () => {
    assert.ok((await stat(path)).size < 100_000, 'small enough to commit');
    const summary = await probeMedia(path);
    assert.equal(summary.video?.codec, 'png');
    assert.deepEqual([summary.video?.width, summary.video?.height], size);
    assert.ok(alphaFormats.includes(summary.video?.pixelFormat ?? ''), `pix_fmt ${summary.video?.pixelFormat} has alpha`);
    const alpha = await alphaOf(path);
    assert.ok(alpha.some((a) => a === 0), 'has fully transparent pixels');
    assert.ok(alpha.some((a) => a > 200), 'has (nearly) opaque pixels');
  });
}

test('the watermark is semi-transparent: its plate lets the picture through', async () => {
  const alpha = await alphaOf(anbAssets.watermarkPng);
  const partial = alpha.filter((a) => a > 40 && a < 200).length;
  assert.ok(partial > alpha.length / 3, `${partial} of ${alpha.length} pixels are partly transparent`);
  assert.ok(Math.max(...alpha) < 255, 'nothing in the watermark is fully opaque');
});

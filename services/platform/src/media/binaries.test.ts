import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, test } from 'node:test';
import { MediaBinaryNotFoundError, ffmpegPath, ffprobePath, locateBinary, mediaBinary } from './binaries';

let dir: string;
let fakeProbe: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'anb-binaries-'));
  fakeProbe = join(dir, 'ffprobe');
  await writeFile(fakeProbe, '#!/bin/sh\nexit 0\n');
  await chmod(fakeProbe, 0o755);
  await writeFile(join(dir, 'ffmpeg'), 'not executable');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const none = () => undefined;

test('the env variable wins over everything else', () => {
  assert.deepEqual(locateBinary('ffprobe', { FFPROBE_PATH: fakeProbe, PATH: '/usr/bin' }, () => '/elsewhere'), {
    tool: 'ffprobe',
    path: fakeProbe,
    source: 'env',
  });
});

test('an env variable that points nowhere is an error naming it, not a silent fallback', () => {
  assert.throws(
    () => locateBinary('ffmpeg', { FFMPEG_PATH: join(dir, 'missing') }, () => '/bundled/ffmpeg'),
    (e: unknown) => e instanceof MediaBinaryNotFoundError && /FFMPEG_PATH=/.test(e.message),
  );
  assert.throws(() => locateBinary('ffmpeg', { FFMPEG_PATH: join(dir, 'ffmpeg') }, none), MediaBinaryNotFoundError, 'not executable');
});

test('a system binary on PATH comes before the bundled one; non-executables and relative entries are skipped', () => {
  const PATH = ['relative/bin', '/nonexistent', dir].join(delimiter);
  assert.deepEqual(locateBinary('ffprobe', { PATH }, () => '/bundled/ffprobe'), { tool: 'ffprobe', path: fakeProbe, source: 'system' });
  assert.equal(locateBinary('ffmpeg', { PATH }, () => '/bundled/ffmpeg').source, 'npm', `${dir}/ffmpeg is not executable`);
});

test('the npm-shipped binaries are found when nothing else is there', () => {
  for (const tool of ['ffmpeg', 'ffprobe'] as const) {
    const found = locateBinary(tool, { PATH: '' });
    assert.equal(found.source, 'npm');
    assert.match(found.path, new RegExp(`@${tool}-installer`));
  }
});

test('nothing anywhere is a readable error', () => {
  assert.throws(() => locateBinary('ffprobe', { PATH: '' }, none), /ffprobe not found: set FFPROBE_PATH/);
});

test('the process-wide answer is memoised', () => {
  assert.equal(mediaBinary('ffmpeg'), mediaBinary('ffmpeg'));
  assert.equal(ffmpegPath(), mediaBinary('ffmpeg').path);
  assert.equal(ffprobePath(), mediaBinary('ffprobe').path);
});

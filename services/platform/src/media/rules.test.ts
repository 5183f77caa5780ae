import assert from 'node:assert/strict';
import { test } from 'node:test';
import { videoRules } from '@anb/contracts';
import type { MediaSummary, VideoStreamSummary } from './probe';
import { checkUploadRules, looksLikeMp4, notMp4Message } from './rules';

function summary(overrides: Partial<Omit<MediaSummary, 'video'>> & { video?: Partial<VideoStreamSummary> | undefined } = {}): MediaSummary {
  const { video, ...rest } = overrides;
  const base: VideoStreamSummary = {
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
    frameRate: 30,
  };
  return {
    formatName: 'mov,mp4,m4a,3gp,3g2,mj2',
    formatNames: ['mov', 'mp4', 'm4a', '3gp', '3g2', 'mj2'],
    majorBrand: 'isom',
    durationSeconds: 21,
    sizeBytes: 5_000_000,
    bitRate: 2_000_000,
    hasAudio: true,
    streams: [],
    ...rest,
    video: 'video' in overrides && video === undefined ? undefined : { ...base, ...video },
  };
}

function failure(result: ReturnType<typeof checkUploadRules>): { rule: string; message: string } {
  assert.equal(result.ok, false, 'expected the rules to fail');
  return result as { ok: false; rule: string; message: string };
}

test('a 1080p MP4 between 20 and 60 s passes', () => {
  assert.deepEqual(checkUploadRules(summary()), { ok: true });
  assert.deepEqual(checkUploadRules(summary({ durationSeconds: 20 })), { ok: true });
  assert.deepEqual(checkUploadRules(summary({ durationSeconds: 60 })), { ok: true });
});

test('either orientation counts as 1080p when its short side is at least 1080', () => {
  assert.deepEqual(checkUploadRules(summary({ video: { width: 1080, height: 1920 } })), { ok: true });
  assert.deepEqual(checkUploadRules(summary({ video: { width: 3840, height: 2160 } })), { ok: true });
  const small = failure(checkUploadRules(summary({ video: { width: 1920, height: 1079 } })));
  assert.equal(small.rule, 'resolution');
});

test('a container that is not MP4 is rejected first, whatever else is wrong', () => {
  const webm = failure(checkUploadRules(summary({ formatName: 'matroska,webm', formatNames: ['matroska', 'webm'], majorBrand: undefined, durationSeconds: 5 })));
  assert.deepEqual(webm, { ok: false, rule: 'container', message: notMp4Message });
  assert.equal(webm.message, 'El archivo no es un video MP4 válido.');
});

test('a QuickTime-era file without an ftyp box is not an MP4', () => {
  assert.equal(failure(checkUploadRules(summary({ majorBrand: undefined }))).rule, 'container');
});

test('an MP4 without a picture (audio only) names the missing video track', () => {
  const result = failure(checkUploadRules(summary({ video: undefined })));
  assert.equal(result.rule, 'video-stream');
  assert.match(result.message, /no contiene una pista de video/);
});

test('too short and too long mention the 20–60 s range and the actual duration', () => {
  const short = failure(checkUploadRules(summary({ durationSeconds: 15 })));
  assert.equal(short.rule, 'duration');
  assert.equal(short.message, 'La duración del video debe estar entre 20 y 60 segundos; el archivo dura 15 s.');
  const long = failure(checkUploadRules(summary({ durationSeconds: 61.24 })));
  assert.equal(long.message, 'La duración del video debe estar entre 20 y 60 segundos; el archivo dura 61,2 s.');
  const unknown = failure(checkUploadRules(summary({ durationSeconds: undefined })));
  assert.equal(unknown.rule, 'duration');
  assert.match(unknown.message, /entre 20 y 60 segundos/);
});

test('the duration is judged at the precision the message shows', () => {
  // 60.04 s would read "dura 60 s": rejecting it would contradict its own message
  assert.deepEqual(checkUploadRules(summary({ durationSeconds: 60.04 })), { ok: true });
  assert.deepEqual(checkUploadRules(summary({ durationSeconds: 19.96 })), { ok: true });
  assert.equal(failure(checkUploadRules(summary({ durationSeconds: 60.06 }))).message.includes('60,1 s'), true);
});

test('too small mentions 1080p and the actual resolution', () => {
  const result = failure(checkUploadRules(summary({ video: { width: 1280, height: 720 } })));
  assert.equal(result.rule, 'resolution');
  assert.equal(result.message, 'La resolución mínima es 1080p (el lado corto debe medir al menos 1080 px); el video es de 1280x720.');
});

test('a file over the size limit names the limit and its size', () => {
  const result = failure(checkUploadRules(summary({ sizeBytes: videoRules.maxBytes + 10 * 1024 * 1024 })));
  assert.equal(result.rule, 'size');
  assert.equal(result.message, 'El archivo supera el tamaño máximo de 100 MB (pesa 110 MB).');
});

test('rules come from the contract by default and can be overridden', () => {
  assert.equal(failure(checkUploadRules(summary(), { ...videoRules, minSeconds: 25 })).rule, 'duration');
});

test('looksLikeMp4 checks the ftyp box at offset 4, not a name', () => {
  const ftyp = Buffer.from('0000001c6674797069736f6d0000020069736f6d69736f32', 'hex');
  assert.equal(looksLikeMp4(ftyp), true);
  const quicktime = Buffer.concat([Buffer.from([0, 0, 0, 20]), Buffer.from('ftypqt  '), Buffer.alloc(8)]);
  assert.equal(looksLikeMp4(quicktime), true);
  // a subarray of a bigger buffer (as a stream chunk would be)
  assert.equal(looksLikeMp4(Buffer.concat([Buffer.alloc(7), ftyp]).subarray(7)), true);
});

test('looksLikeMp4 rejects other content', () => {
  assert.equal(looksLikeMp4(Buffer.from('1a45dfa39f4286810142f7810142f2', 'hex')), false, 'WebM/EBML');
  assert.equal(looksLikeMp4(Buffer.from('00000018667479', 'hex')), false, 'too short to hold a brand');
  assert.equal(looksLikeMp4(Buffer.concat([Buffer.from([0, 0, 0, 8]), Buffer.from('ftypisom')])), false, 'box smaller than a ftyp');
  assert.equal(looksLikeMp4(Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('moov'), Buffer.alloc(16)])), false, 'no ftyp first');
  assert.equal(looksLikeMp4(Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftyp'), Buffer.from([0, 1, 2, 3]), Buffer.alloc(12)])), false, 'binary brand');
  assert.equal(looksLikeMp4(Buffer.alloc(0)), false);
});

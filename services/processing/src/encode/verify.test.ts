import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MediaSummary } from '@anb/platform/media';
import { isFastStart, Mp4StructureError, topLevelBoxes, verifyProcessedOutput } from './verify';

function output(overrides: { duration?: number | undefined; width?: number; height?: number; codec?: string; audio?: boolean } = {}): MediaSummary {
  const { width = 1280, height = 720, codec = 'h264', audio = false } = overrides;
  const duration = 'duration' in overrides ? overrides.duration : 27;
  return {
    formatName: 'mov,mp4,m4a,3gp,3g2,mj2',
    formatNames: ['mov', 'mp4', 'm4a', '3gp', '3g2', 'mj2'],
    majorBrand: 'isom',
    durationSeconds: duration,
    sizeBytes: 1_000_000,
    bitRate: 300_000,
    video: { index: 0, type: 'video', codec, durationSeconds: duration, width, height, codedWidth: width, codedHeight: height, rotation: 0, pixelFormat: 'yuv420p', frameRate: 30 },
    hasAudio: audio,
    streams: [{ index: 0, type: 'video', codec, durationSeconds: duration }, ...(audio ? [{ index: 1, type: 'audio' as const, codec: 'aac', durationSeconds: duration }] : [])],
  };
}

describe('verifyProcessedOutput', () => {
  test('accepts h264 1280x720 without audio at the expected length', () => {
    assert.deepEqual(verifyProcessedOutput(output(), { durationSeconds: 27 }), { ok: true });
    assert.deepEqual(verifyProcessedOutput(output({ duration: 27.25 }), { durationSeconds: 27 }), { ok: true });
    assert.deepEqual(verifyProcessedOutput(output({ duration: 35 }), { durationSeconds: 35 }), { ok: true });
  });

  test('names every problem in one readable Spanish reason', () => {
    const result = verifyProcessedOutput(output({ width: 1920, height: 1080, codec: 'hevc', audio: true }), { durationSeconds: 27 });
    assert.deepEqual(result, {
      ok: false,
      reason:
        'El video procesado no es válido: el códec es hevc y debe ser H.264; la resolución es 1920x1080 y debe ser 1280x720; contiene audio y no debe tenerlo.',
    });
  });

  test('a wrong length fails, and so does anything over 35 s', () => {
    const off = verifyProcessedOutput(output({ duration: 26.5 }), { durationSeconds: 27 });
    assert.deepEqual(off, { ok: false, reason: 'El video procesado no es válido: dura 26,5 s y se esperaban 27 s.' });
    const long = verifyProcessedOutput(output({ duration: 40 }), { durationSeconds: 40 });
    assert.deepEqual(long, { ok: false, reason: 'El video procesado no es válido: dura 40 s, más que el máximo de 35 s.' });
    assert.equal(verifyProcessedOutput(output({ duration: undefined }), { durationSeconds: 27 }).ok, false);
  });

  test('a file without a picture fails', () => {
    const summary = { ...output(), video: undefined, streams: [] };
    assert.deepEqual(verifyProcessedOutput(summary, { durationSeconds: 27 }), {
      ok: false,
      reason: 'El video procesado no es válido: no contiene una pista de video.',
    });
  });
});

describe('topLevelBoxes / isFastStart', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'anb-boxes-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const box = (type: string, payload = 0) => {
    const b = Buffer.alloc(8 + payload);
    b.writeUInt32BE(8 + payload, 0);
    b.write(type, 4, 'latin1');
    return b;
  };
  const largeBox = (type: string, payload: number) => {
    const b = Buffer.alloc(16 + payload);
    b.writeUInt32BE(1, 0);
    b.write(type, 4, 'latin1');
    b.writeBigUInt64BE(BigInt(16 + payload), 8);
    return b;
  };
  const file = async (name: string, ...parts: Buffer[]) => {
    const path = join(dir, name);
    await writeFile(path, Buffer.concat(parts));
    return path;
  };

  test('walks box headers in order, with their offsets and sizes', async () => {
    const path = await file('fast.mp4', box('ftyp', 24), box('moov', 100), box('free'), box('mdat', 1000));
    assert.deepEqual(await topLevelBoxes(path), [
      { type: 'ftyp', offset: 0, size: 32 },
      { type: 'moov', offset: 32, size: 108 },
      { type: 'free', offset: 140, size: 8 },
      { type: 'mdat', offset: 148, size: 1008 },
    ]);
    assert.equal(await isFastStart(path), true);
  });

  test('moov after mdat is not fast start; a file without moov is not either', async () => {
    assert.equal(await isFastStart(await file('slow.mp4', box('ftyp', 24), box('mdat', 500), box('moov', 100))), false);
    assert.equal(await isFastStart(await file('nomoov.mp4', box('ftyp', 24), box('mdat', 500))), false);
  });

  test('understands 64-bit sizes and a last box that runs to the end of the file', async () => {
    const toEnd = box('mdat', 300);
    toEnd.writeUInt32BE(0, 0);
    const path = await file('large.mp4', box('ftyp', 8), largeBox('moov', 40), toEnd);
    assert.deepEqual(await topLevelBoxes(path), [
      { type: 'ftyp', offset: 0, size: 16 },
      { type: 'moov', offset: 16, size: 56 },
      { type: 'mdat', offset: 72, size: 308 },
    ]);
  });

  test('a truncated or nonsensical file is a typed error, not an endless loop', async () => {
    const truncated = await file('truncated.mp4', box('ftyp', 24), box('mdat', 1000).subarray(0, 100));
    await assert.rejects(topLevelBoxes(truncated), Mp4StructureError);
    const zero = Buffer.alloc(16);
    zero.writeUInt32BE(4, 0);
    await assert.rejects(topLevelBoxes(await file('tiny.mp4', box('ftyp', 8), zero)), /claims 4 bytes/);
    await assert.rejects(topLevelBoxes(await file('stub.mp4', box('ftyp', 8), Buffer.from([0, 0, 0]))), /truncated box header/);
  });
});

import { open } from 'node:fs/promises';
import type { MediaSummary } from '@anb/platform/media';

/**
 * The processed file is checked before it is published: a wrong result is a failure, not a publication.
 * Reasons are in Spanish because they end up in `VideoProcessingFailed.reason`, shown to the owner.
 */

export interface ExpectedOutput {
  /** what `expectedOutputSeconds` computed for the source */
  durationSeconds: number;
  /** allowed difference from `durationSeconds` */
  toleranceSeconds?: number;
  /** hard ceiling of the contract: 30 s of source + 2 × 2.5 s of bumpers */
  maxSeconds?: number;
  width?: number;
  height?: number;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

export function verifyProcessedOutput(summary: MediaSummary, expected: ExpectedOutput): VerifyResult {
  const { toleranceSeconds = 0.3, maxSeconds = 35, width = 1280, height = 720 } = expected;
  const problems: string[] = [];
  const video = summary.video;
  if (!video) problems.push('no contiene una pista de video');
  else {
    if (video.codec !== 'h264') problems.push(`el códec es ${video.codec ?? 'desconocido'} y debe ser H.264`);
    if (video.width !== width || video.height !== height) {
      problems.push(`la resolución es ${video.width}x${video.height} y debe ser ${width}x${height}`);
    }
  }
  if (summary.hasAudio) problems.push('contiene audio y no debe tenerlo');
  const duration = summary.durationSeconds;
  if (duration === undefined) problems.push('no se pudo determinar su duración');
  else {
    if (duration > maxSeconds + 0.05) problems.push(`dura ${decimal(duration)} s, más que el máximo de ${decimal(maxSeconds)} s`);
    if (Math.abs(duration - expected.durationSeconds) > toleranceSeconds) {
      problems.push(`dura ${decimal(duration)} s y se esperaban ${decimal(expected.durationSeconds)} s`);
    }
  }
  return problems.length ? { ok: false, reason: `El video procesado no es válido: ${problems.join('; ')}.` } : { ok: true };
}

export interface Mp4Box {
  type: string;
  offset: number;
  size: number;
}

export class Mp4StructureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Mp4StructureError';
  }
}

/**
 * The top-level boxes of an ISO-BMFF file (`ftyp`, `moov`, `mdat`, …), reading only their 8–16 byte
 * headers: a 32-bit size and a type, where size 1 means a 64-bit size follows and 0 means "to the end".
 */
export async function topLevelBoxes(path: string): Promise<Mp4Box[]> {
  const file = await open(path, 'r');
  try {
    const { size: fileSize } = await file.stat();
    const boxes: Mp4Box[] = [];
    const header = Buffer.alloc(16);
    let offset = 0;
    while (offset < fileSize) {
      const { bytesRead } = await file.read(header, 0, 16, offset);
      if (bytesRead < 8) throw new Mp4StructureError(`truncated box header at byte ${offset}`);
      const type = header.toString('latin1', 4, 8);
      let size = header.readUInt32BE(0);
      let headerSize = 8;
      if (size === 1) {
        if (bytesRead < 16) throw new Mp4StructureError(`truncated 64-bit box size at byte ${offset}`);
        size = Number(header.readBigUInt64BE(8));
        headerSize = 16;
      } else if (size === 0) size = fileSize - offset;
      if (size < headerSize || offset + size > fileSize) {
        throw new Mp4StructureError(`box '${type}' at byte ${offset} claims ${size} bytes; the file has ${fileSize}`);
      }
      boxes.push({ type, offset, size });
      offset += size;
    }
    return boxes;
  } finally {
    await file.close();
  }
}

/** `+faststart`: the index (moov) comes before the media data, so a player can start before the download ends. */
export async function isFastStart(path: string): Promise<boolean> {
  const types = (await topLevelBoxes(path)).map((b) => b.type);
  const moov = types.indexOf('moov');
  const mdat = types.indexOf('mdat');
  return moov !== -1 && mdat !== -1 && moov < mdat;
}

function decimal(value: number): string {
  const rounded = Math.round(value * 10) / 10;
  return Number.isInteger(rounded) ? String(rounded) : rounded.toFixed(1).replace('.', ',');
}

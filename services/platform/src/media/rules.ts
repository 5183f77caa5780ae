import { videoRules } from '@anb/contracts';
import type { MediaSummary } from './probe';

/**
 * The upload rules of the contract, checked on what ffprobe found in the file (never on its name or
 * declared type). The first rule that fails is reported, with a Spanish message that names it: it is
 * shown to the player as is.
 */

export type UploadRule = 'container' | 'size' | 'video-stream' | 'duration' | 'resolution';

export type UploadRuleResult = { ok: true } | { ok: false; rule: UploadRule; message: string };

export interface UploadRules {
  maxBytes: number;
  minSeconds: number;
  maxSeconds: number;
  /** the short side, so a portrait 1080x1920 clip counts as 1080p */
  minShortSide: number;
}

export const notMp4Message = 'El archivo no es un video MP4 válido.';

export function checkUploadRules(summary: MediaSummary, rules: UploadRules = videoRules): UploadRuleResult {
  // the mov/mp4 demuxer also reads old QuickTime files; an MP4 (ISO-BMFF) always starts with `ftyp`
  if (!summary.formatNames.includes('mp4') || !summary.majorBrand) return fail('container', notMp4Message);

  if (summary.sizeBytes !== undefined && summary.sizeBytes > rules.maxBytes) {
    return fail('size', `El archivo supera el tamaño máximo de ${megabytes(rules.maxBytes)} MB (pesa ${megabytes(summary.sizeBytes)} MB).`);
  }

  const video = summary.video;
  if (!video || video.width <= 0 || video.height <= 0) {
    return fail('video-stream', 'El archivo no es un video MP4 válido: no contiene una pista de video.');
  }

  const range = `entre ${rules.minSeconds} y ${rules.maxSeconds} segundos`;
  if (summary.durationSeconds === undefined) {
    return fail('duration', `No se pudo determinar la duración del video; debe durar ${range}.`);
  }
  // The check uses the value the message shows (tenths of a second), so "dura 60 s" is never a rejection.
  const seconds = Math.round(summary.durationSeconds * 10) / 10;
  if (seconds < rules.minSeconds || seconds > rules.maxSeconds) {
    return fail('duration', `La duración del video debe estar ${range}; el archivo dura ${decimal(seconds)} s.`);
  }

  if (Math.min(video.width, video.height) < rules.minShortSide) {
    return fail(
      'resolution',
      `La resolución mínima es ${rules.minShortSide}p (el lado corto debe medir al menos ${rules.minShortSide} px); ` +
        `el video es de ${video.width}x${video.height}.`,
    );
  }
  return { ok: true };
}

/**
 * Content sniffing for the first bytes of an upload: an ISO-BMFF file (MP4) starts with an `ftyp` box,
 * a 32-bit big-endian size (at least 16: header, major brand, minor version) then the type at offset 4.
 */
export function looksLikeMp4(firstBytes: Uint8Array): boolean {
  if (firstBytes.length < 12) return false;
  const view = new DataView(firstBytes.buffer, firstBytes.byteOffset, firstBytes.byteLength);
  const size = view.getUint32(0);
  const type = String.fromCharCode(...firstBytes.subarray(4, 8));
  if (type !== 'ftyp' || size < 16) return false;
  // the major brand is four printable ASCII characters (`isom`, `mp42`, `qt  `…)
  return firstBytes.subarray(8, 12).every((c) => c >= 0x20 && c <= 0x7e);
}

function fail(rule: UploadRule, message: string): UploadRuleResult {
  return { ok: false, rule, message };
}

function megabytes(bytes: number): string {
  return decimal(Math.round((bytes / (1024 * 1024)) * 10) / 10);
}

/** Spanish decimals: 15.5 → "15,5", 15 → "15". */
function decimal(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1).replace('.', ',');
}

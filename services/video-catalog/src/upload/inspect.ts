import { videoRules } from '@anb/contracts';
import { AppError } from '@anb/platform';
import { MediaProbeError, checkUploadRules, notMp4Message, probeMedia, type MediaSummary } from '@anb/platform/media';
import type { VideoFiles } from '../storage';

/**
 * Reads the stored original with ffprobe — over a short-lived signed URL, so ffprobe fetches only the
 * boxes it needs with Range requests — and applies the upload rules. A file that breaks one is a
 * 400 naming the rule; storage trouble is ours (503), not the uploader's.
 */
export async function inspectStoredVideo(files: VideoFiles, key: string, sizeBytes: number): Promise<MediaSummary> {
  const url = await files.signedUrl(key, 300);
  let summary: MediaSummary;
  try {
    summary = await probeMedia(url, { timeoutMs: 60_000 });
  } catch (error) {
    if (error instanceof MediaProbeError && error.reason === 'invalid-media') {
      throw new AppError('INVALID_VIDEO', { message: notMp4Message });
    }
    throw new AppError('SERVICE_UNAVAILABLE', { message: 'No se pudo analizar el video. Intenta de nuevo.', cause: error });
  }
  const verdict = checkUploadRules({ ...summary, sizeBytes }, videoRules);
  if (!verdict.ok) throw new AppError('INVALID_VIDEO', { message: verdict.message, errors: [{ field: 'video_file', message: verdict.message }] });
  return summary;
}

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openAsBlob } from 'node:fs';
import { join } from 'node:path';
import { renderSyntheticVideo, type SyntheticVideo } from '@anb/platform/media';
import { repoRoot } from '../stack/stack';

/** Test clips generated once per machine into .tmp/media (cheap: 5 fps, ultrafast) and reused. */
export async function testClip(spec: SyntheticVideo): Promise<string> {
  const dir = join(repoRoot, '.tmp', 'media');
  mkdirSync(dir, { recursive: true });
  const name = `${spec.width}x${spec.height}-${spec.seconds}s-${spec.fps ?? 5}fps-${spec.audio === false ? 'mute' : 'audio'}-${spec.rotation ?? 0}.${spec.container ?? 'mp4'}`;
  const path = join(dir, name);
  if (!existsSync(path)) {
    const partial = `${path}.${randomBytes(4).toString('hex')}.part.${spec.container ?? 'mp4'}`;
    await renderSyntheticVideo(partial, spec);
    const { rename } = await import('node:fs/promises');
    await rename(partial, path);
  }
  return path;
}

/** A multipart form with a file read from disk (streamed by fetch, not loaded whole). */
export async function uploadForm(filePath: string | undefined, fields: Record<string, string>, fileField = 'video_file'): Promise<FormData> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  if (filePath) form.set(fileField, await openAsBlob(filePath, { type: 'video/mp4' }), 'clip.mp4');
  return form;
}

/**
 * A multipart body of `size` file bytes generated on the fly (an MP4 `ftyp` head, then filler), for
 * over-the-limit uploads without a 100 MB file on disk or in memory.
 */
export function streamingMultipart(size: number, fields: Record<string, string> = { title: 'Demasiado grande' }) {
  const boundary = `----anb${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(
    Object.entries(fields)
      .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
      .join('') +
      `--${boundary}\r\nContent-Disposition: form-data; name="video_file"; filename="big.mp4"\r\nContent-Type: video/mp4\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const ftyp = Buffer.from([0, 0, 0, 0x18, ...Buffer.from('ftypisom'), 0, 0, 2, 0, ...Buffer.from('isomiso2')]);
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  let sent = 0;
  let stage = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (stage === 0) {
        controller.enqueue(head);
        controller.enqueue(ftyp);
        sent = ftyp.length;
        stage = 1;
      } else if (sent < size) {
        const n = Math.min(chunk.length, size - sent);
        controller.enqueue(chunk.subarray(0, n));
        sent += n;
      } else {
        controller.enqueue(tail);
        controller.close();
      }
    },
  });
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

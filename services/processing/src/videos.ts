import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { storage } from '@anb/contracts';
import { awsClientConfig, type AwsSettings } from '@anb/platform';

/** The video files processing reads and writes: `originals/<id>.mp4` in, `processed/<id>.mp4` out. */
export const originalKey = (videoId: string) => `${storage.bucket.originalsPrefix}${videoId}.mp4`;
export const processedKey = (videoId: string) => `${storage.bucket.processedPrefix}${videoId}.mp4`;

export function createS3Client(settings: AwsSettings): S3Client {
  // emulators (moto, LocalStack) answer on one host: bucket names go in the path there
  return new S3Client({ ...awsClientConfig(settings), forcePathStyle: settings.AWS_ENDPOINT_URL !== undefined });
}

export class VideoFiles {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /** Streams an object to a local file (never whole in memory). */
  async download(key: string, path: string, signal: AbortSignal): Promise<number> {
    const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
    if (!(out.Body instanceof Readable)) throw new Error(`s3://${this.bucket}/${key} has no readable body`);
    await pipeline(out.Body, createWriteStream(path), { signal });
    return (await stat(path)).size;
  }

  /** Multipart upload from a local file; an abort stops it and drops the parts already sent. */
  async upload(path: string, key: string, signal: AbortSignal): Promise<void> {
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key: key, Body: createReadStream(path), ContentType: 'video/mp4' },
      partSize: 8 * 1024 * 1024,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort().catch(() => {});
    signal.throwIfAborted();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}

import { DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { awsClientConfig, type AwsSettings } from '@anb/platform';

export function createS3Client(settings: AwsSettings): S3Client {
  // path-style against an emulator: no DNS for <bucket>.127.0.0.1
  return new S3Client({ ...awsClientConfig(settings), forcePathStyle: settings.AWS_ENDPOINT_URL !== undefined });
}

/** Time-limited links to the stored files (signing is local: no call to S3). */
export class VideoFiles {
  constructor(
    readonly s3: S3Client,
    readonly bucket: string,
    private readonly urlSeconds: number,
  ) {}

  signedUrl(key: string, expiresIn = this.urlSeconds): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn });
  }

  async remove(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const out = await this.s3.send(
      new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }),
    );
    if (out.Errors && out.Errors.length > 0) {
      throw new Error(`S3 refused to delete ${out.Errors.map((e) => `${e.Key}: ${e.Code}`).join(', ')}`);
    }
  }

  async check(): Promise<void> {
    await this.s3.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: AbortSignal.timeout(1500) });
  }
}

import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

/**
 * Time-limited GET links to processed videos. Signing costs a few HMACs, so a link is reused for a
 * quarter of its lifetime: a page of 100 videos signs nothing while its links are fresh, and every link
 * handed out still has at least three quarters of its lifetime ahead.
 */
export class SignedUrls {
  private readonly cache = new Map<string, { url: string; reuseUntil: number }>();

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly ttlSeconds: number,
    private readonly maxEntries = 20_000,
  ) {}

  async urlFor(key: string): Promise<string> {
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.reuseUntil > now) return hit.url;
    const url = await getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: this.ttlSeconds });
    if (this.cache.size >= this.maxEntries) {
      // drop the oldest tenth (a Map iterates in insertion order)
      let n = Math.ceil(this.maxEntries / 10);
      for (const k of this.cache.keys()) {
        this.cache.delete(k);
        if (--n === 0) break;
      }
    }
    this.cache.delete(key);
    this.cache.set(key, { url, reuseUntil: now + (this.ttlSeconds * 1000) / 4 });
    return url;
  }
}

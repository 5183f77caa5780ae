import { AppError, type Context, type Next } from '@anb/platform';

/**
 * A token bucket per client IP (in memory: each gateway task limits on its own, which is enough to
 * slow down password guessing without a shared store). `perMinute` 0 turns it off.
 */
export function rateLimit(perMinute: number, burst = Math.max(5, Math.ceil(perMinute / 4))) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const refillPerMs = perMinute / 60_000;
  let sweepAt = Date.now() + 60_000;
  return async (ctx: Context, next: Next) => {
    if (perMinute <= 0) return next();
    const now = Date.now();
    if (now > sweepAt) {
      for (const [ip, b] of buckets) if (now - b.at > 10 * 60_000) buckets.delete(ip);
      sweepAt = now + 60_000;
    }
    const ip = ctx.ip || 'unknown';
    const bucket = buckets.get(ip) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.at) * refillPerMs);
    bucket.at = now;
    buckets.set(ip, bucket);
    if (bucket.tokens < 1) {
      const retryAfter = Math.ceil((1 - bucket.tokens) / refillPerMs / 1000);
      throw new AppError('RATE_LIMITED', { headers: { 'retry-after': String(retryAfter) } });
    }
    bucket.tokens -= 1;
    await next();
  };
}

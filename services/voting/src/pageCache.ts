/**
 * A short-lived in-memory cache of public pages (the showcase, the ranking), keyed by the normalised
 * query, and of the videos open for votes. Concurrent requests for a page that is being loaded share the load (one query however many
 * clients poll), and an entry lives `ttlMs` — a few hundred milliseconds keeps the ranking well within
 * its one-second freshness promise while the database sees a handful of queries per second. Failures
 * are not cached.
 */
export class PageCache<V> {
  private readonly entries = new Map<string, { value: Promise<V>; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 1000,
  ) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    if (this.ttlMs <= 0) return load();
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) return hit.value;
    const value = load();
    const entry = { value, expires: now + this.ttlMs };
    this.entries.set(key, entry);
    value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    if (this.entries.size > this.maxEntries) {
      for (const [k, e] of this.entries) if (e.expires <= now) this.entries.delete(k);
      // still full of live entries: drop the oldest
      for (const k of this.entries.keys()) {
        if (this.entries.size <= this.maxEntries) break;
        this.entries.delete(k);
      }
    }
    return value;
  }
}

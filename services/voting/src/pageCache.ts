/**
 * A short-lived in-memory cache of public pages (the showcase, the ranking), keyed by the normalised
 * query, and of the videos open for votes. Concurrent requests for a page that is being loaded share the load (one query however many
 * clients poll), and an entry lives `ttlMs` — a few hundred milliseconds keeps the ranking well within
 * its one-second freshness promise while the database sees a handful of queries per second. Failures
 * are not cached.
 *
 * An entry asked for in the last quarter of its life is loaded again in the background while it is
 * still served, and the new value takes its place when it arrives: readers of a page (voters of a
 * video) that keeps being asked for never wait for a load, and never all at once when it expires — in
 * bench:votes the twenty videos' entries expired together every second and every vote in flight
 * waited for their lookups. Nothing served is older than `ttlMs`. A background load that fails leaves
 * the entry to expire as it would have (the next request then loads it again, and waits).
 */
export class PageCache<V> {
  private readonly entries = new Map<string, Entry<V>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 1000,
    private readonly clock: () => number = Date.now,
  ) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    if (this.ttlMs <= 0) return load();
    const now = this.clock();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) {
      if (!hit.refreshing && hit.expires - now <= this.ttlMs / 4) this.refresh(key, hit, load, now);
      return hit.value;
    }
    const entry: Entry<V> = { value: load(), expires: now + this.ttlMs, refreshing: false };
    this.entries.set(key, entry);
    entry.value.catch(() => {
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
    return entry.value;
  }

  /** loads `key` again while `hit` is served; the new value replaces it (if it is still the entry) */
  private refresh(key: string, hit: Entry<V>, load: () => Promise<V>, startedAt: number): void {
    // (once per entry: a failed reload is not retried before the entry expires)
    hit.refreshing = true;
    const value = load();
    value.then(
      () => {
        if (this.entries.get(key) === hit) this.entries.set(key, { value, expires: startedAt + this.ttlMs, refreshing: false });
      },
      () => {},
    );
  }
}

interface Entry<V> {
  value: Promise<V>;
  expires: number;
  /** a background load of this entry's key is (or was) under way */
  refreshing: boolean;
}

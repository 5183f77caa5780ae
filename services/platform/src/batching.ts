/** One caller's item in a batch, and how to answer that caller. */
export interface Batched<T, R> {
  readonly item: T;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/**
 * Natural batching, with no timer: the first item goes at once; items that arrive while a batch is
 * being handled wait for it and then go together in the next one (at most `maxBatch`), so an idle
 * caller waits for nothing and a busy one pays one statement per batch instead of one per item. One
 * batch is in flight at a time — `concurrency` of them with that option: an item that arrives while
 * fewer are in flight goes at once in another. `handle` answers each item of its batch; if it throws,
 * every item it left unanswered gets that error, and the next batch goes on as usual. `gatherOneTurn`:
 * before each batch, one turn of the event loop, so that requests whose bytes have already arrived
 * join it.
 */
export class NaturalBatches<T, R> {
  private waiting: Batched<T, R>[] = [];
  /** batches being gathered or handled */
  private active = 0;
  private readonly concurrency: number;

  constructor(
    private readonly handle: (batch: Batched<T, R>[]) => Promise<void>,
    private readonly options: { maxBatch: number; gatherOneTurn?: boolean; concurrency?: number },
  ) {
    this.concurrency = Math.max(1, options.concurrency ?? 1);
  }

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.active < this.concurrency) void this.handleWhileWaiting();
    });
  }

  private async handleWhileWaiting(): Promise<void> {
    this.active++;
    try {
      while (this.waiting.length > 0) {
        if (this.options.gatherOneTurn && this.waiting.length < this.options.maxBatch) await new Promise((resolve) => setImmediate(resolve));
        const batch = this.waiting.splice(0, this.options.maxBatch);
        // (another lane took them during the turn)
        if (batch.length === 0) break;
        try {
          await this.handle(batch);
        } catch (error) {
          // (an answered promise ignores a second answer)
          for (const { reject } of batch) reject(error);
        }
      }
    } finally {
      this.active--;
    }
  }
}

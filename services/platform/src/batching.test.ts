import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NaturalBatches, type Batched } from './batching';

/** batches handled, each answered with its items doubled after `ms` */
function doubling(options: { maxBatch: number; gatherOneTurn?: boolean; concurrency?: number }, ms = 5) {
  const batches: number[][] = [];
  const batcher = new NaturalBatches<number, number>(async (batch: Batched<number, number>[]) => {
    batches.push(batch.map((b) => b.item));
    await new Promise((resolve) => setTimeout(resolve, ms));
    for (const { item, resolve } of batch) resolve(item * 2);
  }, options);
  return { batcher, batches };
}

describe('NaturalBatches', () => {
  test('the first item goes at once; those that arrive meanwhile share the next batch, at most maxBatch each', async () => {
    const { batcher, batches } = doubling({ maxBatch: 3 });
    const first = batcher.add(1);
    assert.deepEqual(batches, [[1]], 'the first item did not wait');
    const rest = [2, 3, 4, 5, 6].map((n) => batcher.add(n));
    assert.deepEqual(await Promise.all([first, ...rest]), [2, 4, 6, 8, 10, 12]);
    assert.deepEqual(batches, [[1], [2, 3, 4], [5, 6]]);
    // idle again: the next item goes at once
    const again = batcher.add(7);
    assert.deepEqual(batches.at(-1), [7]);
    assert.equal(await again, 14);
  });

  test('gatherOneTurn: items added in the same turn as the first go with it', async () => {
    const { batcher, batches } = doubling({ maxBatch: 10, gatherOneTurn: true });
    assert.deepEqual(await Promise.all([1, 2, 3].map((n) => batcher.add(n))), [2, 4, 6]);
    assert.deepEqual(batches, [[1, 2, 3]]);
  });

  test('a batch whose handler throws fails the items it left unanswered; the next batch goes on', async () => {
    let calls = 0;
    const batcher = new NaturalBatches<number, number>(async (batch) => {
      calls++;
      if (calls === 1) {
        batch[0]!.resolve(0);
        throw new Error('connection lost');
      }
      for (const { item, resolve } of batch) resolve(item);
    }, { maxBatch: 10, gatherOneTurn: true });
    const failed = await Promise.allSettled([1, 2, 3].map((n) => batcher.add(n)));
    assert.deepEqual(
      failed.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
      [0, 'connection lost', 'connection lost'],
    );
    assert.equal(await batcher.add(4), 4);
  });

  test('concurrency: an item that arrives while fewer batches are in flight goes at once; the rest gather', async () => {
    let inFlight = 0;
    let most = 0;
    const batches: number[][] = [];
    const batcher = new NaturalBatches<number, number>(async (batch) => {
      batches.push(batch.map((b) => b.item));
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 10));
      inFlight--;
      for (const { item, resolve } of batch) resolve(item);
    }, { maxBatch: 10, concurrency: 2 });
    const first = batcher.add(1);
    const second = batcher.add(2);
    assert.deepEqual(batches, [[1], [2]], 'the second lane took the second item at once');
    const rest = [3, 4, 5].map((n) => batcher.add(n));
    assert.deepEqual(await Promise.all([first, second, ...rest]), [1, 2, 3, 4, 5]);
    assert.deepEqual(batches, [[1], [2], [3, 4, 5]], 'items that came while both lanes were busy went together');
    assert.equal(most, 2);
  });

  test('concurrency with gatherOneTurn: items of one turn go together, not split across lanes', async () => {
    const { batcher, batches } = doubling({ maxBatch: 10, gatherOneTurn: true, concurrency: 3 });
    assert.deepEqual(await Promise.all([1, 2, 3, 4].map((n) => batcher.add(n))), [2, 4, 6, 8]);
    assert.deepEqual(batches, [[1, 2, 3, 4]]);
  });
});

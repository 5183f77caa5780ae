import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PageCache } from './pageCache';

/** a cache on a clock the test moves, and a loader that counts its loads and can be made to fail */
function setup(ttlMs = 1000) {
  let now = 0;
  let loads = 0;
  let failing = false;
  const cache = new PageCache<number>(ttlMs, 1000, () => now);
  const load = async () => {
    loads++;
    if (failing) throw new Error('no');
    return loads;
  };
  return {
    cache,
    get: () => cache.get('k', load),
    at: (ms: number) => (now = ms),
    loads: () => loads,
    fail: (yes: boolean) => (failing = yes),
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test('concurrent gets share one load; a fresh entry is served without loading', async () => {
  const c = setup();
  assert.deepEqual(await Promise.all([c.get(), c.get(), c.get()]), [1, 1, 1]);
  c.at(500);
  assert.equal(await c.get(), 1);
  assert.equal(c.loads(), 1);
});

test('asked for in the last quarter of its life, an entry is served while it is loaded again, then replaced', async () => {
  const c = setup();
  await c.get();
  c.at(800);
  const served = [c.get(), c.get()];
  assert.equal(c.loads(), 2, 'loaded again in the background, once');
  assert.deepEqual(await Promise.all(served), [1, 1], 'the current value meanwhile');
  await settle();
  c.at(850);
  assert.equal(await c.get(), 2, 'then the reloaded value');
  c.at(1500);
  assert.equal(await c.get(), 2, 'which lives from its load (800) for the ttl');
  assert.equal(c.loads(), 2);
  c.at(1801);
  assert.equal(await c.get(), 3, 'expired: loaded and waited for');
});

test('a failed background load leaves the entry to expire; then it is loaded again', async () => {
  const c = setup();
  await c.get();
  c.fail(true);
  c.at(900);
  assert.equal(await c.get(), 1);
  await settle();
  c.at(950);
  assert.equal(await c.get(), 1, 'still served, not loaded again');
  assert.equal(c.loads(), 2);
  c.at(1000);
  await assert.rejects(c.get());
  c.fail(false);
  assert.equal(await c.get(), 4, 'a failure is not cached');
});

test('never older than the ttl: an entry nobody asked for in its last quarter expires and is loaded again', async () => {
  const c = setup();
  await c.get();
  c.at(1000);
  assert.equal(await c.get(), 2);
  assert.equal(c.loads(), 2);
});

test('ttl 0: every get loads', async () => {
  const c = setup(0);
  await c.get();
  await c.get();
  assert.equal(c.loads(), 2);
});

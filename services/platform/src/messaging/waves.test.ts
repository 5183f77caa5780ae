import assert from 'node:assert/strict';
import { test } from 'node:test';
import { donePrefixLength, planWaves } from './waves';

test('planWaves keeps one event per stream per wave and batches each wave', () => {
  const events = ['a', 'b', 'a', 'c', 'a', 'b'].map((streamId, i) => ({ streamId, i }));
  const waves = planWaves(events, 2);
  assert.deepEqual(
    waves.map((w) => w.map((b) => b.map((e) => e.i))),
    [[[0, 1], [3]], [[2, 5]], [[4]]],
  );
});

test('planWaves puts independent streams in a single wave', () => {
  const events = Array.from({ length: 25 }, (_, i) => ({ streamId: `s${i}` }));
  const waves = planWaves(events, 10);
  assert.equal(waves.length, 1);
  assert.deepEqual(waves[0]!.map((b) => b.length), [10, 10, 5]);
});

test('donePrefixLength stops at the first event not done', () => {
  assert.equal(donePrefixLength([1, 2, 3, 4], (n) => n !== 3), 2);
  assert.equal(donePrefixLength([1, 2], () => true), 2);
  assert.equal(donePrefixLength([], () => true), 0);
});

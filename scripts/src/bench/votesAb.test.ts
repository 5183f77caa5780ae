import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { abbaOrder, pairedDifferences, parseVariant } from './votesAb';

describe('bench:votes:ab', () => {
  test('a variant is KEY=value words and --flags; anything else is refused', () => {
    assert.deepEqual(parseVariant(undefined), { env: {}, nodeArgs: [] });
    assert.deepEqual(parseVariant('  '), { env: {}, nodeArgs: [] });
    assert.deepEqual(parseVariant('RELAY_SNS_PIPELINING=1  NODE_OPTIONS=--max-semi-space-size=64 EMPTY= --min-semi-space-size=16 --no-opt'), {
      env: { RELAY_SNS_PIPELINING: '1', NODE_OPTIONS: '--max-semi-space-size=64', EMPTY: '' },
      nodeArgs: ['--min-semi-space-size=16', '--no-opt'],
    });
    for (const bad of ['pipelining', '=1', '1X=2', 'A-B=1', '-x', '--', '--Upper=1']) assert.throws(() => parseVariant(bad), /not KEY=value or --flag/, bad);
  });

  test('rounds go A B B A A B B A, so each variant runs first in half the pairs', () => {
    assert.deepEqual(abbaOrder(8).join(''), 'ABBAABBA');
    assert.deepEqual(abbaOrder(3).join(''), 'ABB');
    assert.deepEqual(abbaOrder(0), []);
  });

  test('paired differences are B − A per pair', () => {
    assert.deepEqual(pairedDifferences([100, 110, 90], [90, 115, 80]), { mean: -5, min: -10, max: 5, bLower: 2, pairs: 3 });
    // an unfinished pair is left out
    assert.equal(pairedDifferences([100, 100], [90]).pairs, 1);
  });
});

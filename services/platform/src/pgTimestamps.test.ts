import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { fastTimestampParser } from './pgTimestamps';

// node-postgres's own timestamptz parser (postgres-date), as shipped
const original = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ);
const fast = fastTimestampParser(original);

const same = (text: string) => {
  const expected = original(text) as unknown;
  const got = fast(text);
  if (expected instanceof Date) {
    assert.ok(got instanceof Date, `${text}: not a Date`);
    assert.equal(got.getTime(), expected.getTime(), text);
  } else {
    assert.deepEqual(got, expected, text);
  }
};

const pad = (n: number, width: number) => String(n).padStart(width, '0');

test('gives the Date postgres-date gives for every shape PostgreSQL writes, random instants', () => {
  const offsets = ['+00', '-03', '+05:30', '+14', '-12', '-09:30', '+01', '+13:45'];
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let i = 0; i < 20_000; i++) {
    const fraction = random(7);
    const text =
      `${pad(1000 + random(9000), 4)}-${pad(1 + random(12), 2)}-${pad(1 + random(28), 2)} ${pad(random(24), 2)}:${pad(random(60), 2)}:${pad(random(60), 2)}` +
      (fraction === 0 ? '' : `.${pad(random(10 ** fraction), fraction)}`) +
      offsets[random(offsets.length)];
    same(text);
  }
});

test('leaves everything else to postgres-date, with the same result', () => {
  for (const text of [
    'infinity',
    '-infinity',
    '0099-01-01 00:00:00+00',
    '0999-12-31 23:59:59.999+00',
    '12345-01-01 00:00:00+00',
    '2026-01-01 00:00:00+00 BC',
    '1890-01-01 00:00:00+00:19:32',
    '2026-01-01',
    '2026-01-01 00:00:00',
    '2026-01-01 00:00:00.+00',
    '2026-01-01 00:00:00.1234567+00',
    '2026-01-01 00:00:00Z',
    '2026-01-01 00:00:00+0',
    '2026-01-01 00:00:00+00:3',
    '2026-01-01T00:00:00+00',
    '2026-1a-01 00:00:00+00',
    '2026-02-30 25:61:61+00',
  ]) {
    same(text);
  }
});

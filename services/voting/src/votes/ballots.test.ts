import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Knex } from '@anb/platform';
import { Ballots } from './ballots';

/** A stand-in for the database (a pure unit test of the batching): answers the ballot statement from a set of existing streams. */
function fakeDb(existing: Set<string>, options: { failNext?: () => boolean } = {}) {
  const statements: string[][] = [];
  const db = {
    client: { config: {} },
    raw(_sql: string, [streamIds]: [string[]]) {
      return {
        options: () =>
          new Promise((resolve, reject) => {
            statements.push(streamIds);
            setTimeout(() => {
              if (options.failNext?.()) reject(new Error('connection lost'));
              else resolve({ rows: streamIds.filter((id) => existing.has(id)).map((stream_id) => ({ stream_id })) });
            }, 5);
          }),
      };
    },
  };
  return { db: db as unknown as Knex, statements };
}

const video = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('Ballots', () => {
  test('a lone ask is read at once; asks that arrive meanwhile share the next read; each gets its own answer', async () => {
    const existing = new Set([`vote:${video(1)}:u1`, `vote:${video(2)}:u2`, `vote:${video(2)}:u3`]);
    const { db, statements } = fakeDb(existing);
    const ballots = new Ballots(db);
    const first = ballots.votedBy('u1', [video(1), video(2)]);
    assert.equal(statements.length, 1, 'the first ask did not wait');
    const more = ['u2', 'u3', 'u4'].map((u) => ballots.votedBy(u, [video(1), video(2)]));
    assert.deepEqual([...(await first)], [video(1)]);
    const [u2, u3, u4] = await Promise.all(more);
    assert.deepEqual([[...u2!], [...u3!], [...u4!]], [[video(2)], [video(2)], []]);
    assert.equal(statements.length, 2, 'the three asks that waited went together');
    assert.equal(statements[1]!.length, 6);
  });

  test('no videos: no read', async () => {
    const { db, statements } = fakeDb(new Set());
    assert.equal((await new Ballots(db).votedBy('u1', [])).size, 0);
    assert.equal(statements.length, 0);
  });

  test('a read that fails fails the asks it carried, and the next asks read again', async () => {
    let fail = true;
    const { db, statements } = fakeDb(new Set([`vote:${video(1)}:u1`]), { failNext: () => fail && !(fail = false) });
    const ballots = new Ballots(db);
    await assert.rejects(ballots.votedBy('u1', [video(1)]), /connection lost/);
    assert.deepEqual([...(await ballots.votedBy('u1', [video(1)]))], [video(1)]);
    assert.equal(statements.length, 2);
  });

  test('at most maxAsks asks per read', async () => {
    const { db, statements } = fakeDb(new Set());
    const ballots = new Ballots(db, 2);
    const first = ballots.votedBy('u0', [video(1)]);
    const rest = Array.from({ length: 5 }, (_, i) => ballots.votedBy(`u${i + 1}`, [video(1)]));
    await Promise.all([first, ...rest]);
    assert.deepEqual(statements.map((s) => s.length), [1, 2, 2, 1]);
  });
});

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Knex } from 'knex';
import { createDatabase } from '../db';
import { startTestDatabase, waitFor, type LocalPostgres } from '../local';
import { testLogger } from '../test-support/logger';
import { expectedTallies, projectionSchema, tallyProjection, voteCastEvent } from '../test-support/projections';
import { CheckpointMovedError, ProjectionSubscriber, tableCheckpoint } from './subscriber';

let pg: LocalPostgres;
let db: Knex;
const logger = testLogger();

before(async () => {
  pg = await startTestDatabase();
  db = createDatabase({ url: pg.url, poolMax: 20 });
});
after(async () => {
  await db?.destroy();
  await pg?.stop();
});

async function tallies(schema: string): Promise<Map<string, number>> {
  const rows = (await db(`${schema}.tally`).select('owner_id', 'votes')) as { owner_id: string; votes: number }[];
  return new Map(rows.filter((r) => r.votes > 0).map((r) => [r.owner_id, r.votes]));
}

describe('projection subscriber', () => {
  test('applies own events in batches and keeps the checkpoint of the physical table', async () => {
    const schema = 'sub_batches';
    const projection = tallyProjection(schema, { storeFeed: 'subscriber' });
    const store = await projectionSchema(db, schema, [projection]);
    const owners = Array.from({ length: 5 }, () => randomUUID());
    for (let i = 0; i < 230; i++) await store.append(`vote:${i}`, [voteCastEvent(owners[i % 5]!)]);
    const subscriber = new ProjectionSubscriber({ db, databaseUrl: pg.url, schema, projections: [projection], logger, batchSize: 100 });
    assert.equal(await subscriber.drain(), 230);
    assert.deepEqual(await tallies(schema), await expectedTallies(db, schema));
    const checkpoint = await tableCheckpoint(db, schema, `${schema}.tally_v1`);
    const last = (await db(`${schema}.events`).max('position as p').first()) as { p: number };
    assert.equal(checkpoint.position, last.p);
    // nothing left: a second drain applies nothing
    assert.equal(await subscriber.drain(), 0);
  });

  test('while events flow a round skips the look ahead and reads table, checkpoint and xmin at once; idle, it only looks', async () => {
    const schema = 'sub_rounds';
    const projection = tallyProjection(schema, { storeFeed: 'subscriber' });
    const store = await projectionSchema(db, schema, [projection]);
    const owner = randomUUID();
    for (let i = 0; i < 120; i++) await store.append(`vote:${i}`, [voteCastEvent(owner)]);
    const subscriber = new ProjectionSubscriber({ db, databaseUrl: pg.url, schema, projections: [projection], logger, batchSize: 50 });
    const seen: string[] = [];
    const record = (query: { sql: string }) => seen.push(query.sql);
    db.on('query', record);
    try {
      assert.equal(await subscriber.drain(), 120);
      const looks = seen.filter((sql) => sql.includes('as found')).length;
      const separateReads = seen.filter((sql) => /from "sub_rounds"\."(projections|projection_checkpoints)"/.test(sql)).length;
      const states = seen.filter((sql) => sql.includes('left join') && sql.includes('projection_checkpoints')).length;
      // rounds of 50, 50, 20, then one finding nothing: none looks ahead (the first has nothing to look from)
      assert.equal(looks, 0, seen.join('\n'));
      assert.equal(separateReads, 0, seen.join('\n'));
      assert.equal(states, 4);
      // idle now: a round is one look, no transaction
      seen.length = 0;
      assert.equal(await subscriber.drain({ untilCommitted: false }), 0);
      assert.equal(seen.filter((sql) => sql.includes('as found')).length, 1, seen.join('\n'));
      assert.equal(seen.filter((sql) => sql.includes('left join')).length, 0, seen.join('\n'));
    } finally {
      db.off('query', record);
    }
    assert.equal((await tallies(schema)).get(owner), 120);
  });

  test('is woken by NOTIFY: a vote shows up well within a second, not at the next poll', async () => {
    const schema = 'sub_notify';
    const projection = tallyProjection(schema, { storeFeed: 'subscriber' });
    const store = await projectionSchema(db, schema, [projection]);
    const subscriber = new ProjectionSubscriber({ db, databaseUrl: pg.url, schema, projections: [projection], logger, pollIntervalMs: 60_000 });
    subscriber.start();
    try {
      await waitFor(() => subscriber.status().leader, { message: 'subscriber leads' });
      // the first round (at start) has run; now only a NOTIFY can wake it within the minute
      await waitFor(() => subscriber.status().checkpoints.tally !== undefined, { message: 'first round' });
      const owner = randomUUID();
      const started = Date.now();
      await store.append(`vote:${randomUUID()}`, [voteCastEvent(owner)]);
      await waitFor(async () => (await tallies(schema)).get(owner) === 1, { timeoutMs: 5000, intervalMs: 10, message: 'vote applied' });
      assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    } finally {
      await subscriber.stop();
    }
  });

  test('an event that commits late (older transaction id) is not skipped', async () => {
    const schema = 'sub_late';
    const projection = tallyProjection(schema, { storeFeed: 'subscriber' });
    const store = await projectionSchema(db, schema, [projection]);
    const subscriber = new ProjectionSubscriber({ db, databaseUrl: pg.url, schema, projections: [projection], logger });
    const early = randomUUID();
    const late = randomUUID();
    // a transaction takes its id and appends, but commits only after a later one
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let appended!: () => void;
    const inserted = new Promise<void>((r) => (appended = r));
    const slow = db.transaction(async (trx) => {
      await store.append(`vote:${randomUUID()}`, [voteCastEvent(late)], { trx });
      appended();
      await held;
    });
    await inserted;
    await store.append(`vote:${randomUUID()}`, [voteCastEvent(early)]);
    // the later transaction is committed but not final yet: nothing may be applied past the slow one
    await subscriber.drain({ untilCommitted: false });
    assert.equal((await tallies(schema)).get(early), undefined);
    release();
    await slow;
    await subscriber.drain();
    assert.deepEqual(await tallies(schema), new Map([[early, 1], [late, 1]]));
  });

  test('two subscribers on one table never apply a batch twice', async () => {
    const schema = 'sub_twice';
    const projection = tallyProjection(schema, { storeFeed: 'subscriber' });
    const store = await projectionSchema(db, schema, [projection]);
    const owners = Array.from({ length: 3 }, () => randomUUID());
    const a = new ProjectionSubscriber({ db, databaseUrl: pg.url, schema, projections: [projection], logger, batchSize: 7 });
    const b = new ProjectionSubscriber({ db, databaseUrl: pg.url, schema, projections: [projection], logger, batchSize: 11 });
    let conflicts = 0;
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => store.append(`vote:${round}:${i}`, [voteCastEvent(owners[i % 3]!)])));
      const results = await Promise.allSettled([a.drain(), b.drain()]);
      for (const r of results) {
        if (r.status === 'rejected') {
          assert.ok(r.reason instanceof CheckpointMovedError, String(r.reason));
          conflicts++;
        }
      }
    }
    await a.drain();
    assert.deepEqual(await tallies(schema), await expectedTallies(db, schema));
    assert.equal([...(await tallies(schema)).values()].reduce((x, y) => x + y, 0), 200);
    // (conflicts is how often they raced; any number is fine — what matters is the exact totals)
    assert.ok(conflicts >= 0);
  });
});

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Knex } from 'knex';
import { createDatabase } from '../db';
import { startTestDatabase, waitFor, type LocalPostgres } from '../local';
import { testLogger } from '../test-support/logger';
import { expectedTallies, projectionSchema, tallyProjection, voteCastEvent } from '../test-support/projections';
import { startOfStore } from '../eventstore/types';
import type { PositionedLogEvent } from './log';
import { CheckpointMovedError, ProjectionSubscriber, sharedSlice, tableCheckpoint } from './subscriber';

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

async function tallies(schema: string, table = 'tally'): Promise<Map<string, number>> {
  const rows = (await db(`${schema}.${table}`).select('owner_id', 'votes')) as { owner_id: string; votes: number }[];
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

  test('projections that take the same own events share one read of them per round', async () => {
    const schema = 'sub_shared';
    const a = tallyProjection(schema, { storeFeed: 'subscriber' });
    const b = tallyProjection(schema, { name: 'tally_b', storeFeed: 'subscriber' });
    const store = await projectionSchema(db, schema, [a, b]);
    const owners = Array.from({ length: 4 }, () => randomUUID());
    for (let i = 0; i < 120; i++) await store.append(`vote:${i}`, [voteCastEvent(owners[i % 4]!)]);
    const subscriber = new ProjectionSubscriber({ db, databaseUrl: pg.url, schema, projections: [a, b], logger, batchSize: 50 });
    const seen: string[] = [];
    const record = (query: { sql: string }) => seen.push(query.sql);
    db.on('query', record);
    try {
      assert.equal(await subscriber.drain(), 240);
    } finally {
      db.off('query', record);
    }
    const storeReads = seen.filter((sql) => sql.includes('from "sub_shared"."events"') && sql.includes('"event_id", "stream_id"')).length;
    // rounds of 50, 50, 20 and one finding nothing: one read each, not one per projection
    assert.equal(storeReads, 4, seen.join('\n'));
    const expected = await expectedTallies(db, schema);
    assert.deepEqual(await tallies(schema), expected);
    assert.deepEqual(await tallies(schema, 'tally_b'), expected);
    const last = (await db(`${schema}.events`).max('position as p').first()) as { p: number };
    assert.equal((await tableCheckpoint(db, schema, `${schema}.tally_v1`)).position, last.p);
    assert.equal((await tableCheckpoint(db, schema, `${schema}.tally_b_v1`)).position, last.p);
  });

  test('a projection far behind the others in its group catches up, reading for itself where the shared read does not reach', async () => {
    const schema = 'sub_shared_behind';
    const a = tallyProjection(schema, { storeFeed: 'subscriber' });
    const b = tallyProjection(schema, { name: 'tally_b', storeFeed: 'subscriber' });
    const store = await projectionSchema(db, schema, [a, b]);
    const owners = Array.from({ length: 3 }, () => randomUUID());
    for (let i = 0; i < 130; i++) await store.append(`vote:${i}`, [voteCastEvent(owners[i % 3]!)]);
    // only a has been fed: b's table has never moved
    assert.equal(await new ProjectionSubscriber({ db, databaseUrl: pg.url, schema, projections: [a], logger }).drain(), 130);
    for (let i = 130; i < 170; i++) await store.append(`vote:${i}`, [voteCastEvent(owners[i % 3]!)]);
    const both = new ProjectionSubscriber({ db, databaseUrl: pg.url, schema, projections: [a, b], logger, batchSize: 50 });
    // a takes the 40 new ones, b all 170
    assert.equal(await both.drain(), 210);
    const expected = await expectedTallies(db, schema);
    assert.deepEqual(await tallies(schema), expected);
    assert.deepEqual(await tallies(schema, 'tally_b'), expected);
    assert.equal(await both.drain(), 0);
  });

  test('is woken at once, by NOTIFY or, for a new stream appended here while it leads, directly: a vote shows up well within a second, not at the next poll', async () => {
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
      // a vote as voting appends it (a new stream, grouped): no NOTIFY, the append wakes the subscriber.
      // First let it go back to waiting (after a round that applied events it runs one more, 100 ms later)
      await new Promise((resolve) => setTimeout(resolve, 500));
      const direct = Date.now();
      await store.append(`vote:${randomUUID()}`, [voteCastEvent(owner)], { expectedVersion: 'no_stream' });
      await waitFor(async () => (await tallies(schema)).get(owner) === 2, { timeoutMs: 5000, intervalMs: 10, message: 'vote applied' });
      assert.ok(Date.now() - direct < 1000, `took ${Date.now() - direct} ms`);
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

describe('sharedSlice', () => {
  const event = (tx: number, position: number) => ({ transactionId: String(tx), position }) as PositionedLogEvent;
  const events = [event(10, 1), event(10, 2), event(12, 3), event(15, 4)];
  const at = (tx: number, position: number) => ({ transactionId: String(tx), position });

  test('a table at or past the start of the read gets the events after its checkpoint', () => {
    const shared = { from: at(9, 0), events, more: false };
    assert.deepEqual(sharedSlice(shared, at(9, 0))?.events, events);
    assert.deepEqual(sharedSlice(shared, at(10, 2))?.events, [event(12, 3), event(15, 4)]);
    assert.deepEqual(sharedSlice(shared, at(15, 4)), { events: [], more: false });
  });

  test('a table behind the start of the read, or past its end when it stopped at its limit, reads for itself', () => {
    assert.equal(sharedSlice({ from: at(10, 1), events: events.slice(1), more: false }, at(9, 0)), undefined);
    assert.equal(sharedSlice({ from: startOfStore, events, more: true }, at(15, 4)), undefined);
    assert.equal(sharedSlice({ from: startOfStore, events, more: true }, at(20, 9)), undefined);
    assert.deepEqual(sharedSlice({ from: startOfStore, events, more: true }, at(12, 3)), { events: [event(15, 4)], more: true });
  });
});

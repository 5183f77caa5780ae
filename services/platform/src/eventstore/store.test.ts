import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Knex } from 'knex';
import pgClient from 'pg';
import { createDatabase, migrate } from '../db';
import { startTestDatabase, waitFor, type LocalPostgres } from '../local';
import { followHere, leave } from './localFollowers';
import { eventStoreMigrations, notifyChannel } from './schema';
import { EventStore, type InlineProjection } from './store';
import { ConcurrencyError, DuplicateEventError, startOfStore, type Decider } from './types';

let pg: LocalPostgres;
let db: Knex;
const schema = 'es_test';

before(async () => {
  pg = await startTestDatabase();
  db = createDatabase({ url: pg.url, poolMax: 30 });
  await migrate(db, schema, [
    ...eventStoreMigrations(schema),
    {
      name: 'test_counter',
      async up(k) {
        await k.raw('create table es_test.counters (stream_id text primary key, n int not null)');
      },
    },
  ]);
});
after(async () => {
  await db?.destroy();
  await pg?.stop();
});

/** A connection LISTENing to the store's channel, and the payloads it has heard, in order. */
async function listenToStore(): Promise<{ heard: string[]; end(): Promise<void> }> {
  const listener = new pgClient.Client({ connectionString: pg.url });
  await listener.connect();
  const heard: string[] = [];
  listener.on('notification', (n) => heard.push(n.payload ?? ''));
  await listener.query(`listen "${notifyChannel(schema)}"`);
  return { heard, end: () => listener.end() };
}

describe('event store', () => {
  test('appends and reads a stream in version order', async () => {
    const store = new EventStore(db, schema);
    const r1 = await store.append('thing:1', [{ type: 'A', data: { n: 1 } }], { expectedVersion: 'no_stream' });
    assert.equal(r1.nextExpectedVersion, 1);
    const r2 = await store.append('thing:1', [{ type: 'B', data: { n: 2 } }, { type: 'C', data: { n: 3 } }], { expectedVersion: 1 });
    assert.equal(r2.nextExpectedVersion, 3);
    const events = await store.readStream('thing:1');
    assert.deepEqual(events.map((e) => [e.streamVersion, e.type, (e.data as { n: number }).n]), [
      [1, 'A', 1],
      [2, 'B', 2],
      [3, 'C', 3],
    ]);
    assert.ok(events.every((e) => e.metadata.correlationId && e.metadata.causationId));
  });

  test('a wrong expected version is a typed conflict and changes nothing', async () => {
    const store = new EventStore(db, schema);
    await store.append('thing:2', [{ type: 'A', data: {} }]);
    await assert.rejects(store.append('thing:2', [{ type: 'B', data: {} }], { expectedVersion: 'no_stream' }), ConcurrencyError);
    await assert.rejects(store.append('thing:2', [{ type: 'B', data: {} }], { expectedVersion: 5 }), ConcurrencyError);
    assert.equal((await store.readStream('thing:2')).length, 1);
  });

  test('of N racing appends at the same version exactly one wins', async () => {
    const store = new EventStore(db, schema);
    const n = 20;
    const results = await Promise.allSettled(
      Array.from({ length: n }, (_, i) => store.append('race:1', [{ type: 'Raced', data: { i } }], { expectedVersion: 'no_stream' })),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, n - 1);
    for (const r of lost) assert.ok((r as PromiseRejectedResult).reason instanceof ConcurrencyError);
    assert.equal((await store.readStream('race:1')).length, 1);
  });

  test('concurrent single-event appends to new streams are written together, each with its own outcome', async () => {
    const store = new EventStore(db, schema);
    const distinct = Array.from({ length: 40 }, (_, i) => store.append(`group:${i}`, [{ type: 'Voted', data: { i } }], { expectedVersion: 'no_stream' }));
    const same = Array.from({ length: 10 }, () => store.append('group:same', [{ type: 'Voted', data: {} }], { expectedVersion: 'no_stream' }));
    // settled from the start: the losers of 'group:same' may reject while the next append is awaited
    const grouped = Promise.allSettled([...distinct, ...same]);
    const reused = crypto.randomUUID();
    await store.append('group:first', [{ type: 'Voted', data: {}, eventId: reused }]);
    // (settled at once too: with two groups in flight it may be refused while `grouped` is awaited)
    const duplicateId = Promise.allSettled([store.append('group:dup', [{ type: 'Voted', data: {}, eventId: reused }], { expectedVersion: 'no_stream' })]);
    const results = [...(await grouped), ...(await duplicateId)];
    assert.ok(results.slice(0, 40).every((r) => r.status === 'fulfilled'));
    const sameResults = results.slice(40, 50);
    assert.equal(sameResults.filter((r) => r.status === 'fulfilled').length, 1);
    assert.ok(sameResults.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof ConcurrencyError));
    assert.ok((results[50] as PromiseRejectedResult).reason instanceof DuplicateEventError, 'a bad row fails only its caller');
    assert.equal((await store.readStream('group:same')).length, 1);
    assert.equal((await db('es_test.events').where('stream_id', 'like', 'group:%')).length, 42);
  });

  test('with two groups in flight, identical appends spread over both still record exactly one each, in stream order, without a deadlock', async (t) => {
    const store = new EventStore(db, schema, { groupCommitLanes: 2 });
    const deadlocks = async () => Number(((await db.raw('select deadlocks from pg_stat_database where datname = current_database()')) as { rows: { deadlocks: string }[] }).rows[0]!.deadlocks);
    const before = await deadlocks();
    // each row of these streams takes a few ms to insert, so that the two groups' statements overlap
    await db.raw(`create function es_test.slow_lanes() returns trigger language plpgsql as $$
                  begin if new.stream_id like 'lanes:%' then perform pg_sleep(0.004); end if; return new; end $$`);
    await db.raw('create trigger slow_lanes before insert on es_test.events for each row execute function es_test.slow_lanes()');
    t.after(() => db.raw('drop trigger slow_lanes on es_test.events; drop function es_test.slow_lanes()'));
    const streams = Array.from({ length: 12 }, (_, i) => `lanes:${i}`);
    // waves of every stream, each wave in another order, so that groups in flight share streams in opposite orders
    // (each settled from the start: losers reject while later waves are being sent)
    const appends: Promise<PromiseSettledResult<unknown>>[] = [];
    for (let wave = 0; wave < 8; wave++) {
      const order = wave % 2 ? [...streams].reverse() : streams;
      for (const stream of order) appends.push(Promise.allSettled([store.append(stream, [{ type: 'Voted', data: { wave } }], { expectedVersion: 'no_stream' })]).then(([r]) => r!));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const results = await Promise.all(appends);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, streams.length);
    assert.ok(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof ConcurrencyError));
    for (const stream of streams) assert.equal((await store.readStream(stream)).length, 1, stream);
    assert.equal(await deadlocks(), before, 'PostgreSQL detected a deadlock between the groups');
  });

  test('what an append to new streams returns is the event as recorded: the same as reading it back', async () => {
    const store = new EventStore(db, schema, { serviceActor: 'service:test' });
    const upper = crypto.randomUUID().toUpperCase();
    const [alone, ...grouped] = await Promise.all([
      store.append('returned:alone', [{ type: 'A', data: { n: 1, nested: { list: [1, 'two'] } } }, { type: 'B', data: {} }], {
        expectedVersion: 'no_stream',
        metadata: { correlationId: 'c-returned' },
      }),
      ...Array.from({ length: 5 }, (_, i) =>
        store.append(`returned:group:${i}`, [{ type: 'Voted', data: { i, at: '2026-01-01T00:00:00.000Z' }, ...(i === 2 ? { eventId: upper } : {}) }], {
          expectedVersion: 'no_stream',
        }),
      ),
    ]);
    for (const result of [alone!, ...grouped]) {
      const [first] = result.events;
      const readBack = await store.readStream(first!.streamId);
      assert.deepEqual(result.events, readBack, first!.streamId);
    }
    assert.equal(grouped[2]!.events[0]!.eventId, upper.toLowerCase());
  });

  test('the same event id twice is refused', async () => {
    const store = new EventStore(db, schema);
    const eventId = crypto.randomUUID();
    await store.append('dup:1', [{ type: 'A', data: {}, eventId }]);
    await assert.rejects(store.append('dup:2', [{ type: 'A', data: {}, eventId }]), DuplicateEventError);
  });

  test('the events table refuses updates and deletes', async () => {
    const store = new EventStore(db, schema);
    await store.append('ro:1', [{ type: 'A', data: {} }]);
    await assert.rejects(db.raw("update es_test.events set type = 'X' where stream_id = 'ro:1'"), /append-only/);
    await assert.rejects(db.raw("delete from es_test.events where stream_id = 'ro:1'"), /append-only/);
  });

  test('inline projections commit with the append, or not at all', async () => {
    const counter: InlineProjection = {
      name: 'counter',
      handles: ['Counted'],
      async apply(trx, events) {
        for (const e of events) {
          await trx.raw(
            'insert into es_test.counters (stream_id, n) values (?, 1) on conflict (stream_id) do update set n = counters.n + 1',
            [e.streamId],
          );
          if ((e.data as { fail?: boolean }).fail) throw new Error('projection failed');
        }
      },
    };
    const store = new EventStore(db, schema, { inlineProjections: [counter] });
    await store.append('count:1', [{ type: 'Counted', data: {} }, { type: 'Other', data: {} }, { type: 'Counted', data: {} }]);
    assert.equal((await db('es_test.counters').where({ stream_id: 'count:1' }).first()).n, 2);
    await assert.rejects(store.append('count:1', [{ type: 'Counted', data: { fail: true } }]), /projection failed/);
    assert.equal((await db('es_test.counters').where({ stream_id: 'count:1' }).first()).n, 2);
    assert.equal((await store.readStream('count:1')).length, 3);
  });

  test('while every follower of the store in this process leads, new streams wake them directly and NOTIFY nobody; otherwise they NOTIFY', async () => {
    const { heard, end } = await listenToStore();
    const follower = (leader: boolean) => ({ leader, woken: 0, wake() { this.woken++; } });
    const leading = follower(true);
    const standingBy = follower(false);
    const store = new EventStore(db, schema);
    try {
      followHere(schema, leading);
      await store.append('quiet:1', [{ type: 'A', data: {} }], { expectedVersion: 'no_stream' }); // grouped, as a vote
      await store.append('quiet:2', [{ type: 'A', data: {} }, { type: 'B', data: {} }], { expectedVersion: 'no_stream' });
      await assert.rejects(store.append('quiet:1', [{ type: 'A', data: {} }], { expectedVersion: 'no_stream' }), ConcurrencyError);
      assert.equal(leading.woken, 2, 'woken once per append that recorded something');

      // a follower here that stands by (another instance leads it) must hear of appends made here
      followHere(schema, standingBy);
      const loud = await store.append('loud:1', [{ type: 'A', data: {} }], { expectedVersion: 'no_stream' });
      const loudAt = String(loud.events[0]!.position);
      await waitFor(() => heard.includes(loudAt), { timeoutMs: 5000, message: 'NOTIFY while a follower here stands by' });
      // notifications come in commit order: had the appends before it notified, they would be here first
      assert.deepEqual(heard, [loudAt]);
      assert.equal(leading.woken, 2);

      // no follower here (a tool appending): NOTIFY
      leave(schema, standingBy);
      leave(schema, leading);
      const alone = await store.append('loud:2', [{ type: 'A', data: {} }], { expectedVersion: 'no_stream' });
      await waitFor(() => heard.includes(String(alone.events[0]!.position)), { timeoutMs: 5000, message: 'NOTIFY with no follower here' });
      assert.equal(leading.woken, 2);
    } finally {
      leave(schema, standingBy);
      leave(schema, leading);
      await end();
    }
  });

  test('a new stream is one statement: it notifies on commit, keeps metadata, and inline projections still apply', async () => {
    const { heard, end } = await listenToStore();
    try {
      const store = new EventStore(db, schema, { serviceActor: 'service:test' });
      const { events } = await store.append('fresh:1', [{ type: 'A', data: { n: 1 } }, { type: 'B', data: { n: 2 } }], {
        expectedVersion: 'no_stream',
        metadata: { correlationId: 'c-1' },
      });
      assert.deepEqual(events.map((e) => [e.streamVersion, e.type]), [
        [1, 'A'],
        [2, 'B'],
      ]);
      assert.equal(events[0]!.metadata.correlationId, 'c-1');
      assert.equal(events[0]!.metadata.actor, 'service:test');
      assert.match(events[0]!.transactionId, /^\d+$/);
      await waitFor(() => heard.includes(String(events[1]!.position)), { timeoutMs: 5000, message: 'NOTIFY with the last position' });
      const counted: InlineProjection = {
        name: 'counted',
        handles: ['Counted'],
        async apply(trx, evs) {
          for (const e of evs) await trx.raw('insert into es_test.counters (stream_id, n) values (?, 1)', [e.streamId]);
        },
      };
      await new EventStore(db, schema, { inlineProjections: [counted] }).append('fresh:2', [{ type: 'Counted', data: {} }], { expectedVersion: 'no_stream' });
      assert.equal((await db('es_test.counters').where({ stream_id: 'fresh:2' }).first()).n, 1);
    } finally {
      await end();
    }
  });

  test('a decider handles commands with optimistic retries', async () => {
    type State = { total: number };
    type Command = { type: 'Add'; amount: number };
    type Event = { type: 'Added'; data: { amount: number } };
    const decider: Decider<State, Command, Event> = {
      initialState: () => ({ total: 0 }),
      evolve: (s, e) => ({ total: s.total + e.data.amount }),
      decide: (c, s) => {
        if (s.total + c.amount > 100) throw new Error('over the limit');
        return [{ type: 'Added', data: { amount: c.amount } }];
      },
    };
    const store = new EventStore(db, schema);
    await Promise.all(Array.from({ length: 5 }, () => store.handle('acc:1', decider, { type: 'Add', amount: 10 }, { retries: 10 })));
    const { state, version } = await store.aggregateStream('acc:1', decider);
    assert.deepEqual(state, { total: 50 });
    assert.equal(version, 5);
    await assert.rejects(store.handle('acc:1', decider, { type: 'Add', amount: 60 }), /over the limit/);
  });

  test('readAll never passes a transaction that is still in flight', async () => {
    const store = new EventStore(db, schema);
    const before = await store.readAll({ after: startOfStore, limit: 10_000 });
    const last = before.at(-1)!;
    const checkpoint = { transactionId: last.transactionId, position: last.position };

    // a slow transaction appends first (lower xid), a fast one appends and commits after it
    const slow = await db.transaction();
    await store.append('late:1', [{ type: 'Late', data: {} }], { trx: slow });
    await store.append('fast:1', [{ type: 'Fast', data: {} }]);

    // the fast event is committed, but it must not be read while the slow one may still commit behind it
    // (only this test's streams are looked at: earlier tests' events may become final meanwhile)
    const ours = (events: readonly { streamId: string; type: string }[]) =>
      events.filter((e) => e.streamId === 'late:1' || e.streamId === 'fast:1').map((e) => e.type);
    const during = await store.readAll({ after: checkpoint, limit: 100 });
    assert.deepEqual(ours(during), []);

    await slow.commit();
    // final once no older transaction is in flight anywhere on the server (other test files share it)
    const afterCommit = await waitFor(
      async () => {
        const types = ours(await store.readAll({ after: checkpoint, limit: 1000 }));
        return types.length >= 2 ? types : undefined;
      },
      { timeoutMs: 10_000, message: 'both events become readable' },
    );
    assert.deepEqual(afterCommit, ['Late', 'Fast']);
  });
});

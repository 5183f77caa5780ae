import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Knex } from 'knex';
import { createDatabase, migrate } from './db';
import { eventStoreMigrations } from './eventstore/schema';
import { EventStore } from './eventstore/store';
import { startTestDatabase, type LocalPostgres } from './local';

let pg: LocalPostgres;
const opened: Knex[] = [];
const open = (options: { prepareHotStatements?: boolean; poolMax?: number } = {}) => {
  const db = createDatabase({ url: pg.url, poolMax: options.poolMax ?? 1, ...options });
  opened.push(db);
  return db;
};

before(async () => {
  pg = await startTestDatabase();
});
after(async () => {
  await Promise.all(opened.map((db) => db.destroy()));
  await pg?.stop();
});

/** the statements prepared on the (only) connection, by their text */
async function prepared(db: Knex): Promise<Map<string, string>> {
  const { rows } = (await db.raw(`select name, statement from pg_prepared_statements`)) as { rows: { name: string; statement: string }[] };
  return new Map(rows.map((r) => [r.statement, r.name]));
}

describe('hot statements are prepared once per connection', () => {
  test('a statement run a third time is prepared under its hash, in and out of transactions, and answers the same', async () => {
    const db = open();
    await db.raw('create table hot_votes (id int primary key, votes int not null)');
    await db('hot_votes').insert([
      { id: 1, votes: 10 },
      { id: 2, votes: 20 },
    ]);
    const read = (q: Knex | Knex.Transaction, id: number) => q('hot_votes').where({ id }).first('votes');
    assert.deepEqual(await read(db, 1), { votes: 10 });
    assert.deepEqual(await read(db, 2), { votes: 20 });
    const text = db('hot_votes').where({ id: 1 }).first('votes').toSQL().toNative().sql;
    assert.equal([...(await prepared(db)).keys()].includes(text), false, 'prepared too early');
    assert.deepEqual(await read(db, 1), { votes: 10 });
    const name = (await prepared(db)).get(text);
    assert.match(name ?? '', /^anb_h0_[\w-]{24}$/);
    // inside a transaction (knex runs it through another client object): the same name, other values,
    // and a text first seen there is prepared there too
    const both = (q: Knex | Knex.Transaction, id: number) => q('hot_votes').where({ id }).first('id', 'votes');
    await db.transaction(async (trx) => {
      assert.deepEqual(await read(trx, 2), { votes: 20 });
      await trx('hot_votes').where({ id: 2 }).update({ votes: 21 });
      assert.deepEqual(await read(trx, 2), { votes: 21 });
      for (const id of [1, 2, 1]) assert.equal((await both(trx, id)).id, id);
    });
    const update = db('hot_votes').where({ id: 2 }).update({ votes: 21 }).toSQL().toNative().sql;
    const now = await prepared(db);
    assert.equal(now.get(text), name);
    assert.match(now.get(both(db, 1).toSQL().toNative().sql) ?? '', /^anb_h0_/);
    assert.equal(now.has(update), false, 'an update run once is not prepared');
  });

  test('only plain single statements, at most `max` texts per handle, and not at all when turned off', async () => {
    const db = open();
    for (let i = 0; i < 3; i++) {
      await db.raw('select 1 as one; select 2 as two');
      await db.raw('begin; commit');
    }
    assert.deepEqual([...(await prepared(db)).values()], []);
    const off = open({ prepareHotStatements: false });
    for (let i = 0; i < 4; i++) await off.raw('select ?::int as n', [i]);
    assert.deepEqual([...(await prepared(off)).values()], []);
    // nor the statements named in code: the event store's appends run unnamed too
    await migrate(off, 'hot_store', eventStoreMigrations('hot_store'));
    const store = new EventStore(off, 'hot_store', { serviceActor: 'service:test' });
    for (let i = 0; i < 3; i++) await store.append(`vote-${i}`, [{ type: 'VoteCast', data: { n: i } }], { expectedVersion: 'no_stream' });
    assert.equal((await store.readStream('vote-2')).length, 1);
    assert.deepEqual([...(await prepared(off)).values()], []);
    const on = open();
    await new EventStore(on, 'hot_store', { serviceActor: 'service:test' }).append('vote-on', [{ type: 'VoteCast', data: {} }], { expectedVersion: 'no_stream' });
    assert.ok([...(await prepared(on)).values()].some((name) => name.startsWith('anb_group_append_')), 'the named append is prepared when preparing is on');
    // 400 texts at most: the 401st different text runs unprepared
    const many = open();
    for (let t = 0; t < 401; t++) for (let i = 0; i < 3; i++) await many.raw(`select ?::int + ${t} as n`, [i]);
    const names = await prepared(many);
    assert.equal(names.size, 400);
    assert.equal(names.has('select $1::int + 400 as n'), false);
  });

  test('a prepared statement whose result changed under it (a column added) fails once, then runs prepared anew', async () => {
    const db = open();
    await db.raw('create table hot_players (id int primary key, name text not null)');
    await db('hot_players').insert({ id: 1, name: 'Ana' });
    for (let i = 0; i < 3; i++) assert.deepEqual(await db('hot_players').where({ id: 1 }).first(), { id: 1, name: 'Ana' });
    const text = db('hot_players').where({ id: 1 }).first().toSQL().toNative().sql;
    const before = (await prepared(db)).get(text);
    assert.ok(before);
    // another replica's migration, say
    const other = open({ prepareHotStatements: false });
    await other.raw(`alter table hot_players add column city text not null default 'Cali'`);
    await assert.rejects(db('hot_players').where({ id: 1 }).first(), /cached plan must not change result type/);
    assert.deepEqual(await db('hot_players').where({ id: 1 }).first(), { id: 1, name: 'Ana', city: 'Cali' });
    for (let i = 0; i < 3; i++) await db('hot_players').where({ id: 1 }).first();
    const renamed = (await prepared(db)).get(text);
    assert.match(renamed ?? '', /^anb_h1_/);
  });
});

test('timestamptz comes back as the instant PostgreSQL holds, in any session time zone (pgTimestamps)', async () => {
  const db = open();
  for (const zone of ['UTC', 'Asia/Kolkata', 'America/St_Johns', 'Pacific/Kiritimati', 'Europe/Amsterdam']) {
    await db.raw(`set time zone '${zone}'`);
    const { rows } = (await db.raw(
      `select t as at, (extract(epoch from t) * 1000)::float8 as ms, t::text as text
         from unnest(array['2026-11-26 22:35:31.123456+00', '2026-06-01 00:00:00+00', '1999-12-31 23:59:59.999+00', '2030-03-31 01:30:00.5+00']::timestamptz[]) t`,
    )) as { rows: { at: Date; ms: number; text: string }[] };
    for (const row of rows) assert.equal(row.at.getTime(), Math.floor(row.ms), `${zone}: ${row.text}`);
  }
  const { rows } = (await db.raw(`select 'infinity'::timestamptz as a, '-infinity'::timestamptz as b`)) as { rows: { a: unknown; b: unknown }[] };
  assert.deepEqual(rows[0], { a: Infinity, b: -Infinity });
});

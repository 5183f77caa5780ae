import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Knex } from 'knex';
import { createDatabase } from '../db';
import { startTestDatabase, type LocalPostgres } from '../local';
import { projectionSchema, tallyProjection } from '../test-support/projections';
import { readLog, startOfLog, type LogPosition, type PositionedLogEvent } from './log';

let pg: LocalPostgres;
let db: Knex;

before(async () => {
  pg = await startTestDatabase();
  db = createDatabase({ url: pg.url });
});
after(async () => {
  await db?.destroy();
  await pg?.stop();
});

async function readAllOf(schema: string, limit: number): Promise<PositionedLogEvent[]> {
  const out: PositionedLogEvent[] = [];
  let from: LogPosition = startOfLog;
  for (;;) {
    const read = await readLog(db, schema, { from, storeTypes: ['VoteCast'], inboxTypes: ['UserRegistered'], limit, storeBound: 'committed', inboxBound: 'committed' });
    out.push(...read.events);
    from = read.next;
    if (!read.more) return out;
  }
}

describe('the local log', () => {
  // transaction ids of every length (xid8 orders 9 < 10 < 100; their text would not)
  const txids = [7, 8, 9, 10, 11, 95, 99, 100, 101, 999, 1000, 1001, 9999, 10000];

  test('reads own events and consumed events merged in transaction order, whatever the batch size', async () => {
    const schema = 'log_order';
    await projectionSchema(db, schema, [tallyProjection(schema)]);
    // explicit transaction ids (read with the `committed` bound: on a young server some are still
    // "in the future"): events on the even indexes, inbox rows on the odd ones, one transaction (1000) with both
    for (const [i, txid] of txids.entries()) {
      if (i % 2 === 0 || txid === 1000) {
        await db(`${schema}.events`).insert({
          transaction_id: db.raw('?::xid8', [String(txid)]),
          event_id: randomUUID(),
          stream_id: `vote:${i}`,
          stream_version: 1,
          type: 'VoteCast',
          data: JSON.stringify({ txid }),
        });
      }
      if (i % 2 === 1 || txid === 1000) {
        await db(`${schema}.inbox`).insert({
          transaction_id: db.raw('?::xid8', [String(txid)]),
          event_id: randomUUID(),
          source: 'anb.auth',
          type: 'UserRegistered',
          subject: `s${i}`,
          stream_version: 1,
          time: new Date().toISOString(),
          data: JSON.stringify({ txid }),
          envelope: '{}',
        });
      }
    }
    const expected = txids.flatMap((t) => (t === 1000 ? [`inbox:${t}`, `store:${t}`] : [`${txids.indexOf(t) % 2 === 0 ? 'store' : 'inbox'}:${t}`]));
    for (const limit of [1, 2, 3, 5, 100]) {
      const events = await readAllOf(schema, limit);
      assert.deepEqual(
        events.map((e) => `${e.origin}:${e.data.txid}`),
        expected,
        `limit ${limit}`,
      );
    }
  });
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { trace, type Link, type Span, type SpanOptions, type Tracer, type TracerProvider } from '@opentelemetry/api';
import type { Knex } from 'knex';
import pg from 'pg';
import { createDatabase } from '../db';
import { EventStore } from '../eventstore/store';
import { startTestDatabase, waitFor, type LocalPostgres } from '../local';
import { inboxHandler } from '../messaging/inbox';
import { testLogger } from '../test-support/logger';
import { expectedTallies, projectionSchema, tallyProjection, userRegisteredEnvelope, voteCastEvent } from '../test-support/projections';
import { formatDiff, type TableDiff } from './compare';
import { inlineProjectionOf, type ProjectionDefinition } from './definition';
import { ReplayAbortedError, ReplayBusyError, projectionVersions, replayProjection } from './replay';
import { ProjectionSubscriber, liveTable, tableCheckpoint } from './subscriber';

let server: LocalPostgres;
let db: Knex;
const logger = testLogger();

before(async () => {
  server = await startTestDatabase();
  db = createDatabase({ url: server.url, poolMax: 30 });
});
after(async () => {
  await db?.destroy();
  await server?.stop();
});

/** A schema with a tally projection, some history (votes in the store, registrations in the inbox) applied live. */
async function world(schema: string, feed: 'inline' | 'subscriber', options: { owners?: number; votes?: number } = {}) {
  const projection = tallyProjection(schema, { storeFeed: feed });
  const plain = await projectionSchema(db, schema, [projection]);
  const store = feed === 'inline' ? new EventStore(db, schema, { inlineProjections: [inlineProjectionOf(projection)] }) : plain;
  const subscriber = new ProjectionSubscriber({ db, databaseUrl: server.url, schema, projections: [projection], logger, pollIntervalMs: 50 });
  const deliver = inboxHandler({ db, schema, projections: [projection], logger });
  const owners = Array.from({ length: options.owners ?? 20 }, () => randomUUID());
  const write = {
    vote: (owner = owners[Math.floor(Math.random() * owners.length)]!) => store.append(`vote:${randomUUID()}`, [voteCastEvent(owner, new Date(Date.now() - Math.floor(Math.random() * 1e6)))]),
    register: (owner: string, city = ['Bogotá', 'Cali', 'Pasto'][Math.floor(Math.random() * 3)]!) =>
      deliver({ Body: JSON.stringify(userRegisteredEnvelope(owner, city, new Date(Date.now() - Math.floor(Math.random() * 1e6)))) }, {
        signal: new AbortController().signal,
        receiveCount: 1,
        messageId: 'm',
      }),
  };
  for (const owner of owners) await write.register(owner);
  const votes = options.votes ?? 600;
  for (let i = 0; i < votes; i += 50) await Promise.all(Array.from({ length: Math.min(50, votes - i) }, () => write.vote()));
  // a second registration of some owners (the latest wins)
  for (const owner of owners.slice(0, 5)) await write.register(owner, 'Medellín');
  if (feed === 'subscriber') await subscriber.drain();
  return { projection, store, subscriber, write, owners };
}

/** The live table through the view, ordered, without the bookkeeping column. */
async function liveRows(projection: ProjectionDefinition) {
  return (await db(`${projection.schema}.${projection.name}`).select('owner_id', 'votes', 'last_vote_at', 'city', 'registered_at').orderBy('owner_id')) as {
    owner_id: string;
    votes: number;
  }[];
}

async function assertMatchesLog(projection: ProjectionDefinition) {
  const expected = await expectedTallies(db, projection.schema);
  const rows = await liveRows(projection);
  assert.deepEqual(new Map(rows.filter((r) => r.votes > 0).map((r) => [r.owner_id, r.votes])), expected);
}

function assertIdentical(diff: TableDiff) {
  assert.equal(diff.missing + diff.extra + diff.different, 0, formatDiff(diff, { live: 'live', rebuilt: 'rebuilt' }));
}

describe('replay', () => {
  test('rebuilds a subscriber-fed projection equal to the live table, swaps it in and moves the checkpoint with it', async () => {
    const { projection, subscriber, write } = await world('replay_basic', 'subscriber');
    const before = await liveRows(projection);
    const progress: number[] = [];
    const result = await replayProjection({ db, databaseUrl: server.url, projection, batchSize: 100, onProgress: (p) => progress.push(p.events) });
    assert.equal(result.swapped, true);
    assert.equal(result.previousVersion, 1);
    assert.equal(result.version, 2);
    assertIdentical(result.diff);
    assert.equal(result.events, 600 + 25);
    assert.ok(progress.length > 3 && progress.at(-1) === 625);
    assert.deepEqual((await liveTable(db, projection)).table, 'replay_basic.tally_v2');
    assert.deepEqual(await liveRows(projection), before);
    // the new table carries its own checkpoint: at the last vote, so nothing is applied twice
    const last = (await db('replay_basic.events').max('position as p').first()) as { p: number };
    assert.equal((await tableCheckpoint(db, 'replay_basic', 'replay_basic.tally_v2')).position, last.p);
    // the previous table is kept
    assert.deepEqual(await projectionVersions(db, projection), [1, 2]);
    // live writes after the swap land in the new table, once
    for (let i = 0; i < 40; i++) await write.vote();
    await subscriber.drain();
    await assertMatchesLog(projection);
  });

  test('a second run gives the identical table and drops the oldest version', async () => {
    const { projection } = await world('replay_twice', 'subscriber');
    const first = await replayProjection({ db, databaseUrl: server.url, projection });
    const rows = await liveRows(projection);
    const second = await replayProjection({ db, databaseUrl: server.url, projection });
    assert.equal(first.version, 2);
    assert.equal(second.version, 3);
    assert.equal(second.diff.rebuiltRows, first.diff.rebuiltRows);
    assertIdentical(second.diff);
    assert.deepEqual(await liveRows(projection), rows);
    assert.deepEqual(second.dropped, ['replay_twice.tally_v1']);
    assert.deepEqual(await projectionVersions(db, projection), [2, 3]);
  });

  test('writers keep going during a replay: across the swap nothing is applied twice or skipped', async () => {
    const { projection, subscriber, write, owners } = await world('replay_live', 'subscriber', { votes: 1500 });
    subscriber.start();
    let writing = true;
    let written = 0;
    const writers = Array.from({ length: 4 }, async () => {
      while (writing) {
        await write.vote();
        written++;
        if (written % 25 === 0) await write.register(owners[written % owners.length]!);
      }
    });
    try {
      await waitFor(() => written > 50, { timeoutMs: 30_000, message: 'writers running' });
      const result = await replayProjection({ db, databaseUrl: server.url, projection, batchSize: 100 });
      assert.equal(result.swapped, true);
      // both tables were compared at the same point of the log
      assertIdentical(result.diff);
      const atSwap = written;
      await waitFor(() => written > atSwap + 50, { timeoutMs: 30_000, message: 'writes after the swap' });
    } finally {
      writing = false;
      await Promise.all(writers);
      await subscriber.stop();
    }
    await subscriber.drain();
    await assertMatchesLog(projection);
  });

  test('a dry run compares and changes nothing', async () => {
    const { projection } = await world('replay_dry', 'subscriber');
    const rows = await liveRows(projection);
    const checkpoint = await tableCheckpoint(db, 'replay_dry', 'replay_dry.tally_v1');
    const result = await replayProjection({ db, databaseUrl: server.url, projection, dryRun: true });
    assert.equal(result.swapped, false);
    assert.equal(result.version, 1);
    assert.equal(result.diff.different, 0);
    assert.deepEqual(await liveTable(db, projection), { version: 1, table: 'replay_dry.tally_v1' });
    assert.deepEqual(await projectionVersions(db, projection), [1]);
    assert.deepEqual(await liveRows(projection), rows);
    assert.deepEqual(await tableCheckpoint(db, 'replay_dry', 'replay_dry.tally_v1'), checkpoint);
    const leftovers = await db('replay_dry.projection_checkpoints').whereNot({ physical_table: 'replay_dry.tally_v1' });
    assert.deepEqual(leftovers, []);
  });

  test('differences are reported row by row, and a real run repairs the table', async () => {
    const { projection, owners } = await world('replay_diff', 'subscriber');
    await db('replay_diff.tally_v1').where({ owner_id: owners[0] }).update({ votes: 999 });
    await db('replay_diff.tally_v1').where({ owner_id: owners[1] }).delete();
    await db('replay_diff.tally_v1').insert({ owner_id: randomUUID(), votes: 1 });
    const dry = await replayProjection({ db, databaseUrl: server.url, projection, dryRun: true });
    assert.deepEqual([dry.diff.missing, dry.diff.extra, dry.diff.different], [1, 1, 1]);
    assert.equal(dry.diff.examples.different[0]!.key.owner_id, owners[0]);
    assert.equal((dry.diff.examples.different[0]!.columns.votes as { live: number }).live, 999);
    assert.equal(dry.diff.examples.extra[0]!.owner_id, owners[1]);
    const real = await replayProjection({ db, databaseUrl: server.url, projection });
    assert.equal(real.swapped, true);
    await assertMatchesLog(projection);
  });

  test('a killed replay leaves a half-built table that the next run replaces; the result is the same', async () => {
    const { projection } = await world('replay_kill', 'subscriber');
    const rows = await liveRows(projection);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('../test-support/replay-child.ts', import.meta.url)), server.url, 'replay_kill', 'tally', 'subscriber'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await waitFor(() => out.includes('HANGING'), { timeoutMs: 60_000, message: 'child replay reaches its second batch' });
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    assert.deepEqual(await projectionVersions(db, projection), [1, 2]);
    // the killed session's lock is gone with it
    await waitFor(
      async () => {
        const r = await db.raw(`select count(*)::int as n from pg_stat_activity where application_name = 'replay replay_kill.tally'`);
        return r.rows[0].n === 0;
      },
      { timeoutMs: 10_000, message: 'killed session ends' },
    );
    const result = await replayProjection({ db, databaseUrl: server.url, projection });
    assert.equal(result.version, 2);
    assertIdentical(result.diff);
    assert.deepEqual(await liveRows(projection), rows);
  });

  test('a second replay of the same projection stops at once with a clear message', async () => {
    const { projection } = await world('replay_busy', 'subscriber', { votes: 10 });
    const holder = new pg.Client({ connectionString: server.url, application_name: 'another replay' });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock(hashtext($1))', ['replay:replay_busy.tally']);
      await assert.rejects(replayProjection({ db, databaseUrl: server.url, projection }), (error: unknown) => {
        assert.ok(error instanceof ReplayBusyError);
        assert.match(error.message, /another replay of replay_busy\.tally is running/);
        assert.match(error.message, /another replay/);
        return true;
      });
    } finally {
      await holder.end();
    }
    assert.deepEqual(await projectionVersions(db, projection), [1]);
  });

  test('an inline projection is rebuilt equal too, with appends running', async () => {
    const { projection, write } = await world('replay_inline', 'inline', { votes: 800 });
    let writing = true;
    const writer = (async () => {
      while (writing) await write.vote();
    })();
    try {
      const result = await replayProjection({ db, databaseUrl: server.url, projection, batchSize: 100 });
      assertIdentical(result.diff);
      assert.equal(result.swapped, true);
    } finally {
      writing = false;
      await writer;
    }
    await assertMatchesLog(projection);
  });

  test('a stopped replay drops its table and leaves the live one alone', async () => {
    const { projection } = await world('replay_abort', 'subscriber', { votes: 300 });
    const controller = new AbortController();
    await assert.rejects(
      replayProjection({ db, databaseUrl: server.url, projection, batchSize: 20, signal: controller.signal, onProgress: (p) => p.events > 40 && controller.abort() }),
      ReplayAbortedError,
    );
    assert.deepEqual(await projectionVersions(db, projection), [1]);
    assert.deepEqual(await liveTable(db, projection), { version: 1, table: 'replay_abort.tally_v1' });
  });

  test('a replay is a trace of its own that links to the traces of the events it replays', async () => {
    // a minimal recording tracer (the platform depends on the OpenTelemetry API only)
    const spans: { name: string; root: boolean; parentTraceId?: string; traceId: string; links: Link[]; attributes: Record<string, unknown> }[] = [];
    let next = 0;
    const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
    const recording: Tracer = {
      startSpan(name: string, options: SpanOptions = {}, ctx?) {
        const parent = ctx ? trace.getSpanContext(ctx) : undefined;
        const traceId = options.root || !parent ? hex(++next, 32) : parent.traceId;
        const record = { name, root: options.root === true, traceId, links: [...(options.links ?? [])], attributes: { ...options.attributes } as Record<string, unknown>, ...(parent ? { parentTraceId: parent.traceId } : {}) };
        spans.push(record);
        const spanContext = { traceId, spanId: hex(++next, 16), traceFlags: 1 };
        const span: Span = {
          spanContext: () => spanContext,
          setAttribute: (k, v) => ((record.attributes[k] = v), span),
          setAttributes: (a) => (Object.assign(record.attributes, a), span),
          addEvent: () => span,
          addLink: (l) => (record.links.push(l), span),
          addLinks: (ls) => (record.links.push(...ls), span),
          setStatus: () => span,
          updateName: () => span,
          end: () => {},
          isRecording: () => true,
          recordException: () => {},
        };
        return span;
      },
      startActiveSpan: (() => {
        throw new Error('not used');
      }) as Tracer['startActiveSpan'],
    };
    const provider: TracerProvider = { getTracer: () => recording };
    assert.ok(trace.setGlobalTracerProvider(provider));
    try {
      const { projection, store } = await world('replay_traced', 'subscriber', { votes: 20 });
      const origin = `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`;
      await store.append(`vote:${randomUUID()}`, [voteCastEvent(randomUUID())], { metadata: { traceparent: origin } });
      await replayProjection({ db, databaseUrl: server.url, projection, dryRun: true });
      const root = spans.find((s) => s.name === 'replay replay_traced.tally')!;
      assert.ok(root.root, 'the replay starts a new trace');
      const batches = spans.filter((s) => s.name === 'replay batch');
      assert.ok(batches.length > 0 && batches.every((b) => b.traceId === root.traceId));
      const links = batches.flatMap((b) => b.links);
      assert.ok(links.some((l) => l.context.traceId === 'ab'.repeat(16) && l.context.spanId === 'cd'.repeat(8)), 'a batch links to the vote’s trace');
      assert.ok(!spans.some((s) => s.traceId === 'ab'.repeat(16)), 'but nothing joins that trace');
    } finally {
      trace.disable();
    }
  });

  test('throughput (reported, not asserted)', async () => {
    const { projection } = await world('replay_speed', 'subscriber', { owners: 500, votes: 0 });
    const owners = (await db('replay_speed.tally').select('owner_id')).map((r: { owner_id: string }) => r.owner_id);
    // 30k votes written in bulk straight into the store
    for (let chunk = 0; chunk < 30; chunk++) {
      await db('replay_speed.events').insert(
        Array.from({ length: 1000 }, (_, i) => {
          const e = voteCastEvent(owners[(chunk * 1000 + i) % owners.length]!);
          return { event_id: randomUUID(), stream_id: `vote:${chunk}:${i}`, stream_version: 1, type: e.type, data: JSON.stringify(e.data) };
        }),
      );
    }
    const result = await replayProjection({ db, databaseUrl: server.url, projection, dryRun: true });
    assert.ok(result.events >= 30_000);
    console.log(`# replay: ${result.events} events in ${result.seconds.toFixed(2)} s = ${Math.round(result.eventsPerSecond)} events/s`);
  });
});

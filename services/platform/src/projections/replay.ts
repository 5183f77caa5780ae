import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Link, type Span } from '@opentelemetry/api';
import type { Knex } from 'knex';
import pg from 'pg';
import type { Upcaster } from '../eventstore/store';
import type { GlobalCheckpoint } from '../eventstore/types';
import { compareTables, type TableDiff } from './compare';
import { isSubscriberFed, projectionLockKey, versionTable, viewName, type ProjectionDefinition } from './definition';
import { countLog, lastSafeStoreEvent, laterCheckpoint, readLog, startOfLog, type LogBound, type LogPosition, type PositionedLogEvent } from './log';
import { applyNextBatch, liveTable, setTableCheckpoint, tableCheckpoint } from './subscriber';

/**
 * Replay: rebuilds a projection from the service's local log (its own events + its inbox) into a new
 * versioned table while the service keeps serving the live one, then — in one short transaction under
 * the projection's exclusive lock — applies the last tail, compares the rebuild with the live table row
 * for row, and swaps the view over to it (blue/green). Deterministic and restartable: a run that is
 * killed leaves at most a half-built table, which the next run drops and builds again.
 *
 *  1. a session advisory lock `replay:<schema>.<name>`: a second replay of the same projection stops at
 *     once with a clear message (ReplayBusyError);
 *  2. `<name>_v<N+1>` is (re)created — a leftover of a killed run is dropped first;
 *  3. the log is streamed into it in large batches, one short transaction each (a long one would hold
 *     back every reader's safe horizon, pg_snapshot_xmin), in the safe order, with progress;
 *  4. swap transaction: take `projection:<schema>.<name>` exclusively — every live writer of this
 *     projection holds it shared while it writes, so now none is half-way — then apply the tail:
 *     every committed inbox event (and own events of an inline projection: they too were written under
 *     the shared lock), and for a subscriber-fed projection the own events up to a final point that the
 *     live table is brought to as well (as its subscriber would have); compare; unless dry-run, point
 *     the view at the new table, record it in the registry and give the new table its own subscriber
 *     checkpoint (the live subscriber continues from there: nothing applied twice, nothing skipped);
 *  5. the previous table is kept for inspection or rollback; older ones are dropped. A dry run rolls the
 *     swap transaction back and drops the new table: nothing changes.
 */

export interface ReplayProgress {
  readonly phase: 'rebuild' | 'swap';
  /** events applied to the new table so far */
  readonly events: number;
  /** events in the log when the replay started (more may arrive meanwhile) */
  readonly total: number;
  readonly elapsedMs: number;
  readonly eventsPerSecond: number;
}

export interface ReplayOptions {
  readonly db: Knex;
  /** for the dedicated connection that holds the replay's session lock */
  readonly databaseUrl: string;
  readonly projection: ProjectionDefinition;
  /** compare only: the swap transaction is rolled back and the new table dropped */
  readonly dryRun?: boolean;
  /** events read per table and applied per transaction (default 5000) */
  readonly batchSize?: number;
  readonly upcasters?: Readonly<Record<string, Upcaster>>;
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** stops between batches; the new table is dropped */
  readonly signal?: AbortSignal;
  /** how long the swap may wait for live writers to finish and for the view (default 15 s) */
  readonly lockTimeoutMs?: number;
}

export interface ReplayResult {
  /** `<schema>.<name>` */
  readonly projection: string;
  readonly dryRun: boolean;
  readonly swapped: boolean;
  readonly previousVersion: number;
  /** the live version afterwards */
  readonly version: number;
  readonly previousTable: string;
  readonly rebuiltTable: string;
  /** events applied to the new table, tail included */
  readonly events: number;
  /** of which in the swap transaction */
  readonly tailEvents: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** the live table compared with the rebuild, both at the same point of the log */
  readonly diff: TableDiff;
  /** where the new table's subscriber checkpoint was set (subscriber-fed projections) */
  readonly checkpoint?: GlobalCheckpoint;
  /** older versions dropped after the swap */
  readonly dropped: readonly string[];
}

export class ReplayBusyError extends Error {
  constructor(
    readonly projection: string,
    readonly holder: { pid: number; application: string; since: string; client: string | null } | undefined,
  ) {
    super(
      `another replay of ${projection} is running` +
        (holder ? ` (PostgreSQL backend ${holder.pid}, ${holder.application || 'no application name'}, from ${holder.client ?? 'local socket'}, since ${holder.since})` : '') +
        '. Wait for it to finish, or stop it; a stopped replay leaves nothing behind that the next run does not clean up.',
    );
    this.name = 'ReplayBusyError';
  }
}

export class ReplayAbortedError extends Error {
  constructor(projection: string) {
    super(`replay of ${projection} stopped before the swap; the live table is untouched and the partial table was dropped`);
    this.name = 'ReplayAbortedError';
  }
}

class DryRunRollback extends Error {
  constructor(readonly outcome: SwapOutcome) {
    super('dry run: roll the swap back');
  }
}

interface SwapOutcome {
  diff: TableDiff;
  tail: number;
  target: GlobalCheckpoint | undefined;
}

const tracer = trace.getTracer('@anb/platform/replay');
const traceparentPattern = /^[\da-f]{2}-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})$/;

/**
 * Links from a replay batch to the traces that recorded its events (a few distinct ones): a replay is
 * its own trace — it must not become part of an upload's or a vote's trace — but an operator can still
 * jump from it to the original work.
 */
function linksOf(events: readonly PositionedLogEvent[], max = 16): Link[] {
  const links: Link[] = [];
  const seen = new Set<string>();
  for (const event of events) {
    const match = event.traceparent ? traceparentPattern.exec(event.traceparent) : null;
    if (!match || seen.has(match[1]!)) continue;
    seen.add(match[1]!);
    links.push({ context: { traceId: match[1]!, spanId: match[2]!, traceFlags: parseInt(match[3]!, 16), isRemote: true }, attributes: { 'anb.event.id': event.eventId } });
    if (links.length === max) break;
  }
  return links;
}

/** The physical versions of a projection that exist (from the catalog, not the registry). */
export async function projectionVersions(db: Knex, projection: ProjectionDefinition): Promise<number[]> {
  const { rows } = (await db.raw(`select tablename from pg_tables where schemaname = ? and tablename like ?`, [
    projection.schema,
    `${projection.name}\\_v%`,
  ])) as { rows: { tablename: string }[] };
  const pattern = new RegExp(`^${projection.name}_v(\\d+)$`);
  return rows
    .map((r) => pattern.exec(r.tablename)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

async function dropVersion(db: Knex, projection: ProjectionDefinition, version: number): Promise<string> {
  const table = versionTable(projection, version);
  await db.raw(`drop table if exists ${table}`);
  const { rows } = (await db.raw('select to_regclass(?) is not null as present', [`${projection.schema}.projection_checkpoints`])) as { rows: { present: boolean }[] };
  if (rows[0]?.present) await db(`${projection.schema}.projection_checkpoints`).where({ physical_table: table }).delete();
  return table;
}

async function acquireReplayLock(databaseUrl: string, projection: ProjectionDefinition): Promise<pg.Client> {
  const key = `replay:${projection.schema}.${projection.name}`;
  const client = new pg.Client({ connectionString: databaseUrl, application_name: `replay ${projection.schema}.${projection.name}` });
  client.on('error', () => {}); // a lost connection releases the lock; the replay's own queries report it
  await client.connect();
  const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock(hashtext($1)) as locked', [key]);
  if (rows[0]?.locked) return client;
  const holder = await client
    .query<{ pid: number; application: string; since: string; client: string | null }>(
      `select a.pid, a.application_name as application, a.backend_start::text as since, a.client_addr::text as client
         from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'advisory' and l.granted and l.objsubid = 1
          and l.objid::text::bigint = (hashtext($1)::bigint & 4294967295)
        limit 1`,
      [key],
    )
    .then((r) => r.rows[0])
    .catch(() => undefined);
  await client.end().catch(() => {});
  throw new ReplayBusyError(`${projection.schema}.${projection.name}`, holder);
}

/**
 * Rebuilds one projection from the local log and swaps it in (or, with dryRun, only compares). Traced
 * as a new trace (`replay <schema>.<name>`, one child span per batch linking to the events' traces)
 * when the process runs OpenTelemetry.
 */
export async function replayProjection(options: ReplayOptions): Promise<ReplayResult> {
  const name = `${options.projection.schema}.${options.projection.name}`;
  const root = tracer.startSpan(`replay ${name}`, { root: true, kind: SpanKind.INTERNAL, attributes: { 'anb.projection': name, 'anb.replay.dry_run': options.dryRun ?? false } }, ROOT_CONTEXT);
  try {
    const result = await runReplay(options, root);
    root.setAttributes({ 'anb.replay.events': result.events, 'anb.replay.version': result.version, 'anb.replay.identical': result.diff.missing + result.diff.extra + result.diff.different === 0 });
    root.setStatus({ code: SpanStatusCode.OK });
    return result;
  } catch (error) {
    root.recordException(error as Error);
    root.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    throw error;
  } finally {
    root.end();
  }
}

async function runReplay(options: ReplayOptions, root: Span): Promise<ReplayResult> {
  const { db, projection } = options;
  const parent = trace.setSpan(ROOT_CONTEXT, root);
  const inSpan = async <T>(spanName: string, events: () => readonly PositionedLogEvent[], work: () => Promise<T>): Promise<T> => {
    const span = tracer.startSpan(spanName, { kind: SpanKind.INTERNAL }, parent);
    try {
      const result = await work();
      const batch = events();
      span.setAttribute('anb.replay.batch_events', batch.length);
      for (const link of linksOf(batch)) span.addLink(link);
      return result;
    } catch (error) {
      // a dry run ends its swap transaction by rolling it back on purpose
      if (!(error instanceof DryRunRollback)) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      }
      throw error;
    } finally {
      span.end();
    }
  };
  const name = `${projection.schema}.${projection.name}`;
  const batchSize = options.batchSize ?? 5000;
  const upcasters = options.upcasters ? { upcasters: options.upcasters } : {};
  const lock = await acquireReplayLock(options.databaseUrl, projection);
  let table: string | undefined;
  let swapped = false;
  try {
    const live = await liveTable(db, projection);
    const next = live.version + 1;
    // leftovers of killed runs (a half-built next version) go first
    for (const version of await projectionVersions(db, projection)) if (version > live.version) await dropVersion(db, projection, version);
    table = versionTable(projection, next);
    const newTable = table;
    await db.transaction((trx) => projection.createTable(trx, newTable));

    const started = performance.now();
    const total = await countLog(db, projection.schema, { from: startOfLog, storeTypes: projection.storeEvents, inboxTypes: projection.inboxEvents });
    const report = (phase: ReplayProgress['phase'], events: number) => {
      const elapsedMs = performance.now() - started;
      options.onProgress?.({ phase, events, total, elapsedMs, eventsPerSecond: elapsedMs > 0 ? (events * 1000) / elapsedMs : 0 });
    };

    // stream the log, one short transaction per batch
    let position: LogPosition = startOfLog;
    let applied = 0;
    report('rebuild', 0);
    for (;;) {
      if (options.signal?.aborted) throw new ReplayAbortedError(name);
      let batch: readonly PositionedLogEvent[] = [];
      const read = await inSpan('replay batch', () => batch, () => db.transaction(async (trx) => {
        const r = await readLog(trx, projection.schema, {
          from: position,
          storeTypes: projection.storeEvents,
          inboxTypes: projection.inboxEvents,
          limit: batchSize,
          storeBound: 'safe',
          inboxBound: 'safe',
          ...upcasters,
        });
        if (r.events.length > 0) await projection.apply(trx, newTable, r.events);
        batch = r.events;
        return r;
      }));
      position = read.next;
      applied += read.events.length;
      report('rebuild', applied);
      // not full: within one batch of the head; the rest is the swap's tail
      if (!read.more) break;
    }
    if (options.signal?.aborted) throw new ReplayAbortedError(name);

    report('swap', applied);
    const swap = async (trx: Knex.Transaction): Promise<SwapOutcome> => {
      await trx.raw(`set local lock_timeout = ${Math.max(1, Math.round(options.lockTimeoutMs ?? 15_000))}`);
      await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [projectionLockKey(projection)]);
      const current = await liveTable(trx, projection);
      if (current.table !== live.table) throw new Error(`the live table of ${name} changed during the replay (${live.table} → ${current.table})`);
      let storeBound: LogBound = 'committed';
      let target: GlobalCheckpoint | undefined;
      if (isSubscriberFed(projection)) {
        // own events reach it after commit: settle on a final point and bring both tables to it
        const liveCheckpoint = await tableCheckpoint(trx, projection.schema, live.table);
        target = laterCheckpoint(await lastSafeStoreEvent(trx, projection.schema, projection.storeEvents), liveCheckpoint, position.store);
        storeBound = { upTo: target };
        for (;;) {
          const step = await applyNextBatch(trx, projection, live.table, { limit: batchSize, bound: storeBound, ...upcasters });
          if (!step.more) break;
        }
      }
      let tail = 0;
      for (;;) {
        const r = await readLog(trx, projection.schema, {
          from: position,
          storeTypes: projection.storeEvents,
          inboxTypes: projection.inboxEvents,
          limit: batchSize,
          storeBound,
          inboxBound: 'committed',
          ...upcasters,
        });
        if (r.events.length > 0) await projection.apply(trx, newTable, r.events);
        position = r.next;
        tail += r.events.length;
        if (!r.more) break;
      }
      const diff = await compareTables(trx, {
        live: live.table,
        rebuilt: newTable,
        key: projection.key,
        ...(projection.ignoreInComparison ? { ignore: projection.ignoreInComparison } : {}),
      });
      const outcome = { diff, tail, target };
      if (options.dryRun) throw new DryRunRollback(outcome);
      await trx.raw(`drop view ${viewName(projection)}`);
      await trx.raw(`create view ${viewName(projection)} as select * from ${newTable}`);
      await trx(`${projection.schema}.projections`)
        .where({ name: projection.name })
        .update({ version: next, live_table: newTable, rebuilt_at: trx.fn.now(), updated_at: trx.fn.now() });
      if (target) await setTableCheckpoint(trx, projection.schema, newTable, target);
      return outcome;
    };
    let outcome: SwapOutcome;
    try {
      outcome = await inSpan('replay swap', () => [], () => db.transaction(swap));
      swapped = !options.dryRun;
    } catch (error) {
      if (!(error instanceof DryRunRollback)) throw error;
      outcome = error.outcome;
    }
    applied += outcome.tail;
    report('swap', applied);
    const seconds = (performance.now() - started) / 1000;

    const dropped: string[] = [];
    if (swapped) {
      // keep the previous table (rollback, inspection); older ones go
      for (const version of await projectionVersions(db, projection)) {
        if (version < live.version) dropped.push(await dropVersion(db, projection, version));
      }
    } else {
      await dropVersion(db, projection, next);
    }
    return {
      projection: name,
      dryRun: options.dryRun ?? false,
      swapped,
      previousVersion: live.version,
      version: swapped ? next : live.version,
      previousTable: live.table,
      rebuiltTable: newTable,
      events: applied,
      tailEvents: outcome.tail,
      seconds,
      eventsPerSecond: seconds > 0 ? applied / seconds : 0,
      diff: outcome.diff,
      ...(outcome.target && swapped ? { checkpoint: outcome.target } : {}),
      dropped,
    };
  } catch (error) {
    // a failed or stopped run leaves no half-built table behind (a killed one: the next run drops it)
    if (table && !swapped) {
      const version = Number(/_v(\d+)$/.exec(table)?.[1]);
      await dropVersion(db, projection, version).catch(() => {});
    }
    throw error;
  } finally {
    await lock.query('select pg_advisory_unlock(hashtext($1))', [`replay:${name}`]).catch(() => {});
    await lock.end().catch(() => {});
  }
}

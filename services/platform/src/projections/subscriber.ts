import type { Logger } from '@anb/observability';
import type { Knex } from 'knex';
import { StoreListener, restOfInterval } from '../messaging/storeListener';
import type { Upcaster } from '../eventstore/store';
import { startOfStore, type GlobalCheckpoint } from '../eventstore/types';
import { isSubscriberFed, projectionLockKey, type ProjectionDefinition } from './definition';
import { checkpointOf, compareCheckpoints, laterCheckpoint, readLog, type LogBound, type PositionedLogEvent } from './log';

const notInRegistry = (projection: ProjectionDefinition) =>
  new Error(`projection ${projection.schema}.${projection.name} is not in the registry (its migration has not run)`);

/**
 * The live physical table of a projection, from the registry. Read after taking the projection's lock,
 * so it cannot change (a replay's swap takes the lock exclusively) until the transaction ends.
 */
export async function liveTable(db: Knex, projection: ProjectionDefinition): Promise<{ version: number; table: string }> {
  const row = (await db(`${projection.schema}.projections`).where({ name: projection.name }).first('version', 'live_table')) as
    | { version: number; live_table: string }
    | undefined;
  if (!row) throw notInRegistry(projection);
  return { version: row.version, table: row.live_table };
}

/**
 * The live table, its checkpoint and the current xmin in one statement (one snapshot): what a round of
 * the live subscriber reads first, after taking the projection's lock (three round trips before).
 */
export async function liveTableState(
  trx: Knex.Transaction,
  projection: ProjectionDefinition,
): Promise<{ table: string; checkpoint: GlobalCheckpoint; xmin: string }> {
  const { rows } = (await trx.raw(
    `select p.live_table, c.transaction_id::text as xid_text, c.position, pg_snapshot_xmin(pg_current_snapshot())::text as xmin
       from ??.projections p left join ??.projection_checkpoints c on c.physical_table = p.live_table
      where p.name = ?`,
    [projection.schema, projection.schema, projection.name],
  )) as { rows: { live_table: string; xid_text: string | null; position: number | null; xmin: string }[] };
  const row = rows[0];
  if (!row) throw notInRegistry(projection);
  const checkpoint = row.xid_text === null || row.position === null ? startOfStore : { transactionId: row.xid_text, position: row.position };
  return { table: row.live_table, checkpoint, xmin: row.xmin };
}

/** Where a physical table of a subscriber-fed projection stands in the store (start when it never moved). */
export async function tableCheckpoint(db: Knex, schema: string, table: string): Promise<GlobalCheckpoint> {
  const row = (await db(`${schema}.projection_checkpoints`)
    .where({ physical_table: table })
    .first(db.raw('transaction_id::text as xid_text'), 'position')) as { xid_text: string; position: number } | undefined;
  return row ? { transactionId: row.xid_text, position: row.position } : startOfStore;
}

export class CheckpointMovedError extends Error {
  constructor(table: string) {
    super(`the checkpoint of ${table} moved under us (another subscriber applied the same events); retrying`);
    this.name = 'CheckpointMovedError';
  }
}

/**
 * Moves a table's checkpoint from `expected` to `next`, failing (and so rolling the batch back) when
 * someone else moved it meanwhile: a batch is applied to a table at most once.
 */
export async function moveTableCheckpoint(trx: Knex.Transaction, schema: string, table: string, expected: GlobalCheckpoint, next: GlobalCheckpoint): Promise<void> {
  const moved = (await trx.raw(
    `insert into ??.projection_checkpoints as c (physical_table, transaction_id, position, updated_at)
     values (?, ?::xid8, ?, now())
     on conflict (physical_table) do update set transaction_id = excluded.transaction_id, position = excluded.position, updated_at = now()
       where (c.transaction_id, c.position) = (?::xid8, ?::bigint)
     returning physical_table`,
    [schema, table, next.transactionId, next.position, expected.transactionId, expected.position],
  )) as { rows: unknown[] };
  // no row yet: the insert is the move; a row: updated only when it still holds what we read
  if (moved.rows.length === 0) throw new CheckpointMovedError(table);
}

/** Sets a table's checkpoint unconditionally (a replay's swap, for the table it swaps in). */
export async function setTableCheckpoint(trx: Knex.Transaction, schema: string, table: string, checkpoint: GlobalCheckpoint): Promise<void> {
  await trx.raw(
    `insert into ??.projection_checkpoints (physical_table, transaction_id, position, updated_at) values (?, ?::xid8, ?, now())
     on conflict (physical_table) do update set transaction_id = excluded.transaction_id, position = excluded.position, updated_at = now()`,
    [schema, table, checkpoint.transactionId, checkpoint.position],
  );
}

/**
 * Own events read once for several projections that take the same ones, in safe order from `from`
 * (the earliest of their checkpoints); `more`: the read stopped at its limit.
 */
export interface SharedRead {
  readonly from: GlobalCheckpoint;
  readonly events: readonly PositionedLogEvent[];
  readonly more: boolean;
}

/**
 * What a shared read holds for a table at `after`: the events past it, when the read began at or
 * before it and reached past it (else undefined: the table reads for itself). They are exactly what
 * the table's own read would return first: the shared read holds every event from its start on.
 */
export function sharedSlice(shared: SharedRead, after: GlobalCheckpoint): { events: PositionedLogEvent[]; more: boolean } | undefined {
  if (compareCheckpoints(after, shared.from) < 0) return undefined;
  let first = 0;
  while (first < shared.events.length && compareCheckpoints(checkpointOf(shared.events[first]!), after) <= 0) first++;
  if (first === shared.events.length && shared.more) return undefined;
  return { events: shared.events.slice(first), more: shared.more };
}

export interface CatchUpOptions {
  readonly limit: number;
  /** own events already read for this and other projections; used when they cover the table's checkpoint */
  readonly shared?: SharedRead;
  /** how far to go (default: every final event) */
  readonly bound?: LogBound;
  readonly upcasters?: Readonly<Record<string, Upcaster>>;
  /** the table's checkpoint and the xmin, when the caller read them in this transaction (liveTableState) */
  readonly known?: { readonly checkpoint: GlobalCheckpoint; readonly xmin: string };
}

/**
 * Applies the next batch of own events to one physical table of a subscriber-fed projection and moves
 * that table's checkpoint in the same transaction. The caller holds the projection's lock (shared for
 * the live subscriber, exclusive in a replay's swap). Returns the events applied and the new checkpoint.
 */
export async function applyNextBatch(
  trx: Knex.Transaction,
  projection: ProjectionDefinition,
  table: string,
  options: CatchUpOptions,
): Promise<{ applied: number; checkpoint: GlobalCheckpoint; more: boolean }> {
  const after = options.known?.checkpoint ?? (await tableCheckpoint(trx, projection.schema, table));
  const read =
    (options.shared && sharedSlice(options.shared, after)) ??
    (await readLog(trx, projection.schema, {
      ...(options.known ? { xmin: options.known.xmin } : {}),
      from: { store: after, inbox: startOfStore },
      storeTypes: projection.storeEvents,
      inboxTypes: [],
      limit: options.limit,
      storeBound: options.bound ?? 'safe',
      inboxBound: 'committed',
      ...(options.upcasters ? { upcasters: options.upcasters } : {}),
    }));
  const last = read.events.at(-1);
  if (!last) return { applied: 0, checkpoint: after, more: false };
  const next = checkpointOf(last);
  await projection.apply(trx, table, read.events);
  await moveTableCheckpoint(trx, projection.schema, table, after, next);
  return { applied: read.events.length, checkpoint: next, more: read.more };
}

export interface ProjectionSubscriberOptions {
  db: Knex;
  /** a connection string for the dedicated LISTEN connection that also holds the leader lock */
  databaseUrl: string;
  /** the service's schema (its store) */
  schema: string;
  /** the subscriber-fed projections (others are ignored) */
  projections: readonly ProjectionDefinition[];
  logger: Logger;
  /** events applied per transaction at most */
  batchSize?: number;
  /** fallback poll when no NOTIFY arrives (an event that was not yet final when notified, say) */
  pollIntervalMs?: number;
  /**
   * least time between the starts of two rounds while events keep coming (default 100 ms): under a
   * stream of votes each batch then takes what arrived meanwhile instead of one round per commit
   */
  minRoundIntervalMs?: number;
  upcasters?: Readonly<Record<string, Upcaster>>;
  /** leader lock name, so a store could feed several subscriber groups */
  name?: string;
}

export interface SubscriberStatus {
  leader: boolean;
  applied: number;
  lastAppliedAt?: Date;
  lastError?: string;
  consecutiveFailures: number;
  /** last checkpoint seen per projection */
  checkpoints: Record<string, GlobalCheckpoint>;
}

/**
 * Feeds subscriber-fed projections with the service's own events after they commit: woken by the
 * store's NOTIFY (with a short poll as a fallback), reads in the safe order after the live table's
 * checkpoint, applies a whole batch in one transaction (the projection aggregates it: one write per row
 * however many events touch it) and moves the checkpoint of that physical table in the same transaction.
 * A replay's swap installs a new table together with its own checkpoint, so a batch is never applied
 * twice or skipped across a swap. Projections that take the same own events (voting's ranking and
 * showcase both take every VoteCast) share one read of them per round. One subscriber per schema
 * leads (advisory lock on its LISTEN connection); a conditional checkpoint update keeps even two
 * leaders from applying a batch twice.
 */
export class ProjectionSubscriber {
  private readonly projections: readonly ProjectionDefinition[];
  /** the projections by the own events they take: each group reads them once per round */
  private readonly groups: readonly (readonly ProjectionDefinition[])[];
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly minRoundIntervalMs: number;
  private readonly lastSeen = new Map<string, GlobalCheckpoint>();
  /** projections whose last round applied events: while events flow, the cheap look first is skipped */
  private readonly flowing = new Set<string>();
  private readonly listener: StoreListener;
  private running = false;
  private loopDone: Promise<void> | undefined;
  private readonly status_: SubscriberStatus = { leader: false, applied: 0, consecutiveFailures: 0, checkpoints: {} };

  constructor(private readonly options: ProjectionSubscriberOptions) {
    this.projections = options.projections.filter(isSubscriberFed);
    const byEvents = new Map<string, ProjectionDefinition[]>();
    for (const p of this.projections) {
      const key = JSON.stringify([...p.storeEvents].sort());
      byEvents.set(key, [...(byEvents.get(key) ?? []), p]);
    }
    this.groups = [...byEvents.values()];
    this.batchSize = options.batchSize ?? 2000;
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.minRoundIntervalMs = options.minRoundIntervalMs ?? 100;
    this.listener = new StoreListener({
      databaseUrl: options.databaseUrl,
      schema: options.schema,
      lockKey: `projections:${options.schema}:${options.name ?? 'subscriber'}`,
      logger: options.logger,
      label: 'projection subscriber',
    });
  }

  status(): SubscriberStatus {
    return { ...this.status_, leader: this.listener.leader, checkpoints: { ...this.status_.checkpoints } };
  }

  start(): void {
    if (this.running || this.projections.length === 0) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.listener.wake();
    await this.loopDone;
    this.loopDone = undefined;
    await this.listener.close();
  }

  /**
   * Applies every event committed before the call (waiting, up to `timeoutMs`, for any of them that is
   * not final yet — an older transaction elsewhere still in flight); with `untilCommitted: false`, only
   * what is final now. Returns how many events were applied. For tests and tools.
   */
  async drain(options: { untilCommitted?: boolean; timeoutMs?: number } = {}): Promise<number> {
    const targets = new Map<string, GlobalCheckpoint>();
    if (options.untilCommitted !== false) {
      for (const p of this.projections) targets.set(p.name, await lastCommittedEvent(this.options.db, p));
    }
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    let total = 0;
    for (;;) {
      const n = await this.round();
      total += n;
      if (n > 0) continue;
      const behind = [...targets].filter(([name, target]) => compareCheckpoints(this.lastSeen.get(name) ?? startOfStore, target) < 0);
      if (behind.length === 0) return total;
      if (Date.now() > deadline) throw new Error(`drain: ${behind.map(([n]) => n).join(', ')} did not reach the events committed before the call`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private async loop(): Promise<void> {
    const log = this.options.logger;
    while (this.running) {
      if (!this.listener.leader) {
        const leading = await this.listener.lead().catch((error: unknown) => {
          log.warn({ err: error }, 'projection subscriber: cannot connect its listener; retrying');
          return false;
        });
        if (!leading) {
          await this.listener.waitForWake(5000);
          continue;
        }
        log.info({ schema: this.options.schema, projections: this.projections.map((p) => p.name) }, 'projection subscriber: leading');
      }
      try {
        // woken flags set while a round runs are kept: the next wait returns at once
        const started = performance.now();
        const applied = await this.round();
        this.status_.consecutiveFailures = 0;
        delete this.status_.lastError;
        if (applied === 0) await this.listener.waitForWake(this.pollIntervalMs);
        else if (applied < this.batchSize && this.running) await restOfInterval(started, this.minRoundIntervalMs); // more are probably on their way: let them gather into the next batch
      } catch (error) {
        this.status_.consecutiveFailures++;
        this.status_.lastError = (error as Error).message;
        const delay = Math.min(10_000, 100 * 2 ** Math.min(this.status_.consecutiveFailures, 7));
        if (error instanceof CheckpointMovedError) log.warn({ retryInMs: delay }, error.message);
        else log.error({ err: error, retryInMs: delay }, 'projection subscriber: applying a batch failed; will retry from the checkpoint');
        await this.listener.waitForWake(delay);
      }
    }
  }

  /** One batch for every projection (in parallel); returns the events applied in all. */
  private async round(): Promise<number> {
    const results = await Promise.all(this.groups.map((group) => (group.length === 1 ? this.roundFor(group[0]!) : this.roundForGroup(group))));
    return results.reduce((a, b) => a + b, 0);
  }

  /**
   * Projections that take the same own events: one read from the earliest of their checkpoints, each
   * applying its part in its own transaction (one that is further behind than the read reaches reads
   * for itself). Outside their transactions is safe: the read stops at the xmin, so the events are final.
   */
  private async roundForGroup(group: readonly ProjectionDefinition[]): Promise<number> {
    const seen = group.map((p) => this.lastSeen.get(p.name));
    const known = seen.every((s): s is GlobalCheckpoint => s !== undefined);
    // the earliest checkpoint of the group; the start of the store until each has had a round
    const from = known ? seen.reduce((a, b) => (compareCheckpoints(b, a) < 0 ? b : a)) : startOfStore;
    if (known && !group.some((p) => this.flowing.has(p.name)) && !(await this.anyAfter(group[0]!, from))) return 0;
    const read = await readLog(this.options.db, this.options.schema, {
      from: { store: from, inbox: startOfStore },
      storeTypes: group[0]!.storeEvents,
      inboxTypes: [],
      limit: this.batchSize,
      storeBound: 'safe',
      inboxBound: 'committed',
      ...(this.options.upcasters ? { upcasters: this.options.upcasters } : {}),
    });
    if (known && read.events.length === 0) {
      // nothing past the earliest checkpoint: none of them has anything to apply
      for (const p of group) this.flowing.delete(p.name);
      return 0;
    }
    const shared: SharedRead = { from, events: read.events, more: read.more };
    const results = await Promise.all(group.map((p) => this.roundFor(p, shared)));
    return results.reduce((a, b) => a + b, 0);
  }

  private async roundFor(projection: ProjectionDefinition, shared?: SharedRead): Promise<number> {
    const { db } = this.options;
    // a cheap look first, outside any transaction (the live table's checkpoint is never behind lastSeen);
    // not while events keep coming: the last round found some, so this one very likely will too
    // (a group's shared read is its look)
    const seen = this.lastSeen.get(projection.name);
    if (!shared && seen && !this.flowing.has(projection.name) && !(await this.anyAfter(projection, seen))) return 0;
    const result = await db.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock_shared(hashtext(?))', [projectionLockKey(projection)]);
      const { table, checkpoint, xmin } = await liveTableState(trx, projection);
      return applyNextBatch(trx, projection, table, {
        limit: this.batchSize,
        known: { checkpoint, xmin },
        ...(shared ? { shared } : {}),
        ...(this.options.upcasters ? { upcasters: this.options.upcasters } : {}),
      });
    });
    if (result.applied > 0) this.flowing.add(projection.name);
    else this.flowing.delete(projection.name);
    const previous = this.lastSeen.get(projection.name);
    if (!previous || compareCheckpoints(result.checkpoint, previous) > 0) {
      this.lastSeen.set(projection.name, laterCheckpoint(result.checkpoint, previous ?? startOfStore));
    }
    this.status_.checkpoints[projection.name] = result.checkpoint;
    if (result.applied > 0) {
      this.status_.applied += result.applied;
      this.status_.lastAppliedAt = new Date();
    }
    return result.applied;
  }

  private async anyAfter(projection: ProjectionDefinition, after: GlobalCheckpoint): Promise<boolean> {
    const row = await this.options
      .db(`${this.options.schema}.events`)
      .whereIn('type', [...projection.storeEvents])
      .whereRaw('(transaction_id, position) > (?::xid8, ?::bigint)', [after.transactionId, after.position])
      .whereRaw('transaction_id < pg_snapshot_xmin(pg_current_snapshot())')
      // in index order: the (transaction_id, position) index answers it in a few pages, whatever the
      // planner believes about a young, fast-growing table (without it, a scan of every vote)
      .orderByRaw('transaction_id, position')
      .first(this.options.db.raw('1 as found'));
    return row !== undefined;
  }
}

/** The last committed own event a projection reads (final or not). */
async function lastCommittedEvent(db: Knex, projection: ProjectionDefinition): Promise<GlobalCheckpoint> {
  const row = (await db(`${projection.schema}.events`)
    .select(db.raw('transaction_id::text as xid_text'), 'position')
    .whereIn('type', [...projection.storeEvents])
    .orderByRaw('transaction_id desc, position desc')
    .first()) as { xid_text: string; position: number } | undefined;
  return row ? { transactionId: row.xid_text, position: row.position } : startOfStore;
}

/** Health: the subscriber keeps failing (reported, not fatal: reads still answer, a bit behind). */
export function subscriberCheck(subscriber: { status(): SubscriberStatus }) {
  return {
    name: 'projection-subscriber',
    critical: false,
    async check() {
      const s = subscriber.status();
      if (s.consecutiveFailures >= 3) throw new Error(`applying own events to projections is failing: ${s.lastError ?? 'unknown error'}`);
    },
  };
}

import { randomUUID } from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
import type { Knex } from 'knex';
import { NaturalBatches, type Batched } from '../batching';
import { isPgError, namedStatement, pgErrorCodes } from '../db';
import { everyFollowerLeadsHere, wakeFollowersHere } from './localFollowers';
import { notifyChannel } from './schema';
import {
  ConcurrencyError,
  DuplicateEventError,
  type Decider,
  type EventMetadata,
  type ExpectedVersion,
  type GlobalCheckpoint,
  type NewEvent,
  type RecordedEvent,
} from './types';

/** A read model updated in the same transaction as the append, so a client reads its own writes. */
export interface InlineProjection {
  readonly name: string;
  /** event types it cares about; others are not passed to it */
  readonly handles: readonly string[];
  apply(trx: Knex.Transaction, events: readonly RecordedEvent[]): Promise<void>;
}

/** Reads old events in their current shape (an incompatible change gets a new type and an upcaster). */
export type Upcaster = (event: RecordedEvent) => RecordedEvent;

export interface EventStoreOptions {
  inlineProjections?: readonly InlineProjection[];
  upcasters?: Readonly<Record<string, Upcaster>>;
  /** `service:<name>`, recorded as the actor when no user is known */
  serviceActor?: string;
  /** group commits in flight at once (default 2: the next group is written while one commits) */
  groupCommitLanes?: number;
}

/**
 * Two group commits in flight: while one group's INSERT waits for its commit (the WAL flush), the votes
 * that arrived meanwhile go in the next, instead of waiting a whole round trip for their turn.
 * bench:votes:ab, 8 paired rounds of 8,000 votes, 2 lanes against 1: p99 −6.4 ms (lower in 6 of 8),
 * +167 votes/s (higher in 6 of 8), CPU per vote the same within the noise.
 */
export const defaultGroupCommitLanes = 2;

export interface AppendOptions {
  expectedVersion?: ExpectedVersion;
  /** join the caller's transaction (its other writes commit or roll back with the events) */
  trx?: Knex.Transaction;
  /** metadata merged into every event of this append */
  metadata?: Partial<EventMetadata>;
}

export interface AppendResult {
  readonly nextExpectedVersion: number;
  readonly events: readonly RecordedEvent[];
}

interface EventRow {
  position: number;
  transaction_id: string;
  event_id: string;
  stream_id: string;
  stream_version: number;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: EventMetadata;
  recorded_at: Date;
}

const columns = [
  'position',
  'transaction_id',
  'event_id',
  'stream_id',
  'stream_version',
  'type',
  'schema_version',
  'data',
  'metadata',
  'recorded_at',
] as const;
// xid8 has no JS parser registered, so pg hands it over as text, which is what a checkpoint stores
const selectColumns = columns.join(', ');

/**
 * The event store of one service schema. `events` is append-only; (stream_id, stream_version) is
 * unique, so of N racing appends at the same expected version exactly one commits and the others get
 * a ConcurrencyError. Appends wake the store's followers — the relay, which publishes committed events
 * (the table is the outbox), and the projections — by NOTIFY, or directly while they all lead in this process.
 */
export class EventStore {
  readonly table: string;
  private readonly projections: readonly InlineProjection[];
  private readonly upcasters: Readonly<Record<string, Upcaster>>;

  private readonly groupCommit: NaturalBatches<NewStreamRow, AppendResult>;

  constructor(
    readonly db: Knex,
    readonly schema: string,
    private readonly options: EventStoreOptions = {},
  ) {
    this.table = `${schema}.events`;
    this.projections = options.inlineProjections ?? [];
    this.upcasters = options.upcasters ?? {};
    this.groupCommit = new NaturalBatches((group) => this.commitGroup(group), {
      maxBatch: 500,
      gatherOneTurn: true,
      concurrency: options.groupCommitLanes ?? defaultGroupCommitLanes,
    });
  }

  async append(streamId: string, events: readonly NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    if (events.length === 0) throw new Error('append needs at least one event');
    if (options.expectedVersion === 'no_stream' && !options.trx && !this.projections.some((p) => events.some((e) => p.handles.includes(e.type)))) {
      return events.length === 1 ? this.groupCommit.add(this.newStreamRows(streamId, events, options)[0]!) : this.appendNewStream(streamId, events, options);
    }
    const run = async (trx: Knex.Transaction): Promise<AppendResult> => {
      const expected = options.expectedVersion ?? 'any';
      const actual = await this.currentVersion(streamId, trx);
      if (expected === 'no_stream' && actual !== 0) throw new ConcurrencyError(streamId, expected, actual);
      if (typeof expected === 'number' && actual !== expected) throw new ConcurrencyError(streamId, expected, actual);

      const base = defaultMetadata(this.options.serviceActor, options.metadata);
      const rows = events.map((event, i) => ({
        event_id: event.eventId ?? randomUUID(),
        stream_id: streamId,
        stream_version: actual + i + 1,
        type: event.type,
        schema_version: event.schemaVersion ?? 1,
        data: JSON.stringify(event.data),
        metadata: JSON.stringify(mergedMetadata(base, options.metadata, event.metadata)),
      }));
      let inserted: EventRow[];
      try {
        // a savepoint keeps a caller's transaction usable after a conflict (the caller decides what to do)
        inserted = await trx.transaction(async (sp) => (await sp(this.table).insert(rows).returning([...columns])) as EventRow[]);
      } catch (error) {
        if (isPgError(error, pgErrorCodes.uniqueViolation, 'events_stream_version_unique')) {
          throw new ConcurrencyError(streamId, expected, undefined);
        }
        if (isPgError(error, pgErrorCodes.uniqueViolation, 'events_event_id_unique')) {
          throw new DuplicateEventError(rows.map((r) => r.event_id));
        }
        throw error;
      }
      const recorded = inserted.map(toRecorded);
      for (const projection of this.projections) {
        const relevant = recorded.filter((e) => projection.handles.includes(e.type));
        if (relevant.length > 0) await projection.apply(trx, relevant);
      }
      // delivered on commit only; wakes the relay at once
      await trx.raw('select pg_notify(?, ?)', [notifyChannel(this.schema), String(recorded.at(-1)!.position)]);
      return { nextExpectedVersion: actual + events.length, events: recorded };
    };
    return options.trx ? run(options.trx) : this.db.transaction(run);
  }

  private newStreamRows(streamId: string, events: readonly NewEvent[], options: AppendOptions): NewStreamRow[] {
    const base = defaultMetadata(this.options.serviceActor, options.metadata);
    return events.map((event, i) => ({
      event_id: event.eventId ?? randomUUID(),
      stream_id: streamId,
      stream_version: i + 1,
      type: event.type,
      schema_version: event.schemaVersion ?? 1,
      data: event.data,
      metadata: mergedMetadata(base, options.metadata, event.metadata),
    }));
  }

  /**
   * Rows of new streams in one statement, the NOTIFY riding in it (delivered on its commit) unless
   * every follower of the store runs in this process and leads: those are woken here once the
   * statement has committed (`localFollowers`: a NOTIFY wakes every listener of the database). The unique
   * (stream_id, stream_version) index is the check: of racing appends exactly one inserts version 1.
   * `skipExisting` leaves a row that meets an existing (stream, version) out of the result instead of
   * failing the statement. Only what the database adds comes back (position, transaction, time): the
   * rest is what was sent, so PostgreSQL does not write the data and metadata out again nor the
   * service parse them (about a tenth of PostgreSQL's CPU per append in batches of 20). Named
   * statements: parsed and planned once per connection, not once per call (about half PostgreSQL's
   * CPU per append at low concurrency — bench:store); they need session-level pooling (a
   * transaction-mode pgbouncer would not keep them): a handle opened to prepare nothing
   * (DATABASE_PREPARE_HOT=false) runs them unnamed.
   */
  private async insertNewStreams(rows: readonly NewStreamRow[], skipExisting: boolean): Promise<EventRow[]> {
    const wakeHere = everyFollowerLeadsHere(this.schema);
    const { rows: out } = (await this.db
      .raw(
        `with inserted as (
           insert into ${this.table} (event_id, stream_id, stream_version, type, schema_version, data, metadata)
           select event_id, stream_id, stream_version, type, schema_version, data, metadata
             from jsonb_to_recordset(?::jsonb)
               as r(event_id uuid, stream_id text, stream_version integer, type text, schema_version integer, data jsonb, metadata jsonb)
           ${skipExisting ? 'on conflict (stream_id, stream_version) do nothing' : ''}
           returning position, transaction_id, event_id, recorded_at)
         ${wakeHere ? 'select inserted.*' : 'select inserted.*, pg_notify(?, (select max(position) from inserted)::text) is null as notified'}
           from inserted order by position`,
        wakeHere ? [JSON.stringify(rows)] : [JSON.stringify(rows), notifyChannel(this.schema)],
      )
      .options(namedStatement(this.db, `anb_${skipExisting ? 'group' : 'new_stream'}_append_${wakeHere ? 'quietly_' : ''}${this.schema}`))) as {
      rows: Pick<EventRow, 'position' | 'transaction_id' | 'event_id' | 'recorded_at'>[];
    };
    if (wakeHere && out.length > 0) wakeFollowersHere(this.schema);
    // (PostgreSQL gives a uuid back in its canonical form, whatever form it was sent in)
    const sent = new Map(rows.map((row) => [uuidKey(row.event_id), row]));
    // (written out: `{ ...row, position, … }` costs V8 on Node 20 ~6 µs per row — bench:spread)
    return out.map(({ position, transaction_id, event_id, recorded_at }) => {
      const row = sent.get(uuidKey(event_id))!;
      return {
        position,
        transaction_id,
        event_id,
        stream_id: row.stream_id,
        stream_version: row.stream_version,
        type: row.type,
        schema_version: row.schema_version,
        data: row.data,
        metadata: row.metadata,
        recorded_at,
      };
    });
  }

  /**
   * A new stream with nothing else to do in its transaction (no caller transaction, no inline
   * projection for these events): one statement instead of a transaction of seven round trips. (A vote
   * is such an append: this is what lets voting take hundreds of votes per second per connection.)
   */
  private async appendNewStream(streamId: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    const rows = this.newStreamRows(streamId, events, options);
    let inserted: EventRow[];
    try {
      inserted = await this.insertNewStreams(rows, false);
    } catch (error) {
      if (isPgError(error, pgErrorCodes.uniqueViolation, 'events_stream_version_unique')) throw new ConcurrencyError(streamId, 'no_stream', undefined);
      if (isPgError(error, pgErrorCodes.uniqueViolation, 'events_event_id_unique')) throw new DuplicateEventError(rows.map((r) => r.event_id));
      throw error;
    }
    return { nextExpectedVersion: events.length, events: inserted.map(toRecorded) };
  }

  /**
   * Natural group commit: single-event appends to new streams (a vote is one) that arrive while groups
   * are being written (`groupCommitLanes` at once) are written together: one INSERT … ON CONFLICT DO
   * NOTHING for the whole group, one commit, one NOTIFY. A row the statement did not insert met an
   * existing (stream, version 1): that caller gets the ConcurrencyError it would have got alone — of
   * identical concurrent votes exactly one is recorded. A group that fails as a whole (a duplicate event id, say) is written row by row, so one
   * bad row fails only its caller.
   */
  private async commitGroup(group: Batched<NewStreamRow, AppendResult>[]): Promise<void> {
    // in stream order: two groups in flight that share streams (identical votes) then meet them in the
    // same order, so one waits for the other's commit instead of each waiting for the other (a deadlock)
    const rows = group.map((g) => g.item).sort((a, b) => (a.stream_id < b.stream_id ? -1 : a.stream_id > b.stream_id ? 1 : 0));
    let recorded: Map<string, RecordedEvent>;
    try {
      recorded = new Map((await this.insertNewStreams(rows, true)).map((row) => [uuidKey(row.event_id), toRecorded(row)]));
    } catch {
      await Promise.all(group.map(({ item: row, resolve, reject }) => this.appendRowAlone(row).then(resolve, reject)));
      return;
    }
    for (const { item: row, resolve, reject } of group) {
      const event = recorded.get(uuidKey(row.event_id));
      if (event) resolve({ nextExpectedVersion: 1, events: [event] });
      else reject(new ConcurrencyError(row.stream_id, 'no_stream', undefined));
    }
  }

  private appendRowAlone(row: NewStreamRow): Promise<AppendResult> {
    return this.appendNewStream(row.stream_id, [{ type: row.type, data: row.data, eventId: row.event_id, schemaVersion: row.schema_version, metadata: row.metadata }], {});
  }

  /** 0 when the stream does not exist. */
  async currentVersion(streamId: string, trx?: Knex.Transaction): Promise<number> {
    const row = (await (trx ?? this.db)(this.table).where({ stream_id: streamId }).max('stream_version as v').first()) as
      | { v: number | null }
      | undefined;
    return row?.v ?? 0;
  }

  async readStream(streamId: string, options: { fromVersion?: number; trx?: Knex.Transaction } = {}): Promise<RecordedEvent[]> {
    const rows = (await (options.trx ?? this.db)(this.table)
      .select(this.db.raw(selectColumns))
      .where({ stream_id: streamId })
      .andWhere('stream_version', '>=', options.fromVersion ?? 1)
      .orderBy('stream_version')) as EventRow[];
    return rows.map((r) => this.upcast(toRecorded(r)));
  }

  /** Folds a stream into state with a decider's evolve. version 0 = no stream. */
  async aggregateStream<S, E extends { type: string; data: unknown }>(
    streamId: string,
    decider: Pick<Decider<S, unknown, E>, 'evolve' | 'initialState'>,
    trx?: Knex.Transaction,
  ): Promise<{ state: S; version: number }> {
    const events = await this.readStream(streamId, trx ? { trx } : {});
    let state = decider.initialState();
    for (const event of events) state = decider.evolve(state, { type: event.type, data: event.data } as E);
    return { state, version: events.at(-1)?.streamVersion ?? 0 };
  }

  /**
   * Runs a command through a decider: read the stream, decide, append at the version read.
   * A concurrent writer makes the append fail; the whole command is then retried on fresh state.
   */
  async handle<S, C, E extends { type: string; data: unknown }>(
    streamId: string,
    decider: Decider<S, C, E>,
    command: C,
    options: {
      metadata?: Partial<EventMetadata>;
      retries?: number;
      eventIds?: (events: readonly E[]) => string[];
      /** decide and append inside the caller's transaction (no retry: a conflict fails the transaction) */
      trx?: Knex.Transaction;
    } = {},
  ): Promise<{ events: readonly E[]; nextExpectedVersion: number; recorded: readonly RecordedEvent[] }> {
    const retries = options.trx ? 0 : (options.retries ?? 3);
    for (let attempt = 0; ; attempt++) {
      const { state, version } = await this.aggregateStream(streamId, decider, options.trx);
      const events = decider.decide(command, state);
      if (events.length === 0) return { events, nextExpectedVersion: version, recorded: [] };
      try {
        const ids = options.eventIds?.(events);
        const result = await this.append(
          streamId,
          events.map((e, i) => ({ type: e.type, data: e.data, ...(ids?.[i] ? { eventId: ids[i] } : {}) })),
          {
            expectedVersion: version === 0 ? 'no_stream' : version,
            ...(options.metadata ? { metadata: options.metadata } : {}),
            ...(options.trx ? { trx: options.trx } : {}),
          },
        );
        return { events, nextExpectedVersion: result.nextExpectedVersion, recorded: result.events };
      } catch (error) {
        if (error instanceof ConcurrencyError && attempt < retries) continue;
        throw error;
      }
    }
  }

  /**
   * Events in the safe global order: by (transaction id, position), strictly after `after`, and never
   * from a transaction at or beyond the oldest one still in flight — so a reader that has moved past
   * a point can never later find an event committed "behind" it.
   */
  async readAll(options: { after: GlobalCheckpoint; limit: number; types?: readonly string[] }): Promise<RecordedEvent[]> {
    const q = this.db(this.table)
      .select(this.db.raw(selectColumns))
      .whereRaw('(transaction_id, position) > (?::xid8, ?::bigint)', [options.after.transactionId, options.after.position])
      .whereRaw('transaction_id < pg_snapshot_xmin(pg_current_snapshot())')
      .orderByRaw('transaction_id, position')
      .limit(options.limit);
    if (options.types) q.whereIn('type', [...options.types]);
    const rows = (await q) as EventRow[];
    return rows.map((r) => this.upcast(toRecorded(r)));
  }

  private upcast(event: RecordedEvent): RecordedEvent {
    const upcaster = this.upcasters[event.type];
    return upcaster ? upcaster(event) : event;
  }
}

const uuidKey = (id: string) => id.toLowerCase().replace(/[^0-9a-f]/g, '');

/**
 * The defaults, then the append's metadata, then the event's own (later ones win), as
 * `{ ...base, ...given, ...own }` gives — which V8 on Node 20 does several times slower (bench:spread).
 */
function mergedMetadata(base: EventMetadata, given: Partial<EventMetadata> | undefined, own: Partial<EventMetadata> | undefined): EventMetadata {
  return Object.assign({}, base, given, own);
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    position: row.position,
    transactionId: row.transaction_id,
    eventId: row.event_id,
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    type: row.type,
    schemaVersion: row.schema_version,
    data: row.data,
    metadata: row.metadata,
    recordedAt: row.recorded_at,
  };
}

/**
 * What every event gets unless the append says otherwise: a new correlation (and causation) id — the
 * caller gives its own, e.g. `requestMetadata(ctx)` while serving a request — the service as actor, and
 * the active trace context.
 */
function defaultMetadata(serviceActor: string | undefined, given: Partial<EventMetadata> | undefined): EventMetadata {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  const id = given?.correlationId ?? randomUUID();
  return {
    correlationId: id,
    causationId: id,
    ...(serviceActor ? { actor: serviceActor } : {}),
    ...(carrier.traceparent ? { traceparent: carrier.traceparent } : {}),
    ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}),
  };
}

/** a row of a new stream before it is inserted: what the database adds is not there yet */
type NewStreamRow = Omit<EventRow, 'position' | 'transaction_id' | 'recorded_at'>;

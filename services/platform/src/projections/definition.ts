import type { EventEnvelope } from '@anb/contracts';
import type { Knex } from 'knex';
import type { Migration } from '../db';
import type { InlineProjection } from '../eventstore/store';
import type { RecordedEvent } from '../eventstore/types';

/**
 * One entry of a service's local log: its own recorded events and the events it consumed (its inbox).
 * Projections are written against this shape so the same code updates them live and rebuilds them
 * in a replay.
 */
export interface LogEvent {
  readonly origin: 'store' | 'inbox';
  readonly eventId: string;
  readonly type: string;
  readonly data: any;
  /** stream id (store) or subject (inbox) */
  readonly streamId: string;
  readonly streamVersion: number;
  /** when it was recorded (store) or produced (inbox envelope time) */
  readonly time: Date;
}

/**
 * A read model that can be rebuilt: its table DDL, the events it reads and how it applies them.
 * Readers and live writers use the view `<schema>.<name>`, which points at the current physical table
 * `<schema>.<name>_v<N>`; a replay builds `_v<N+1>` from the log and swaps the view atomically.
 * `apply` must not depend on delivery order beyond what the events themselves say (use their times),
 * so a rebuild in log order equals the live table.
 */
export interface ProjectionDefinition {
  readonly schema: string;
  readonly name: string;
  /** own event types it reads */
  readonly storeEvents: readonly string[];
  /** consumed event types it reads */
  readonly inboxEvents: readonly string[];
  /** columns that identify a row, for the replay's comparison */
  readonly key: readonly string[];
  /** columns left out of the comparison (e.g. a bookkeeping timestamp set with now()) */
  readonly ignoreInComparison?: readonly string[];
  /**
   * How its own (store) events reach it live. `inline` (the default): in the append's transaction,
   * through `inlineProjectionOf`. `subscriber`: after commit, in batches, by a `ProjectionSubscriber`
   * that keeps a checkpoint per physical table (`<schema>.projection_checkpoints`), so writers of
   * events never wait on the read model (a hot row does not serialise them).
   */
  readonly storeFeed?: 'inline' | 'subscriber';
  createTable(knex: Knex, table: string): Promise<void>;
  apply(trx: Knex.Transaction, table: string, events: readonly LogEvent[]): Promise<void>;
}

export const viewName = (p: ProjectionDefinition) => `${p.schema}.${p.name}`;
export const versionTable = (p: ProjectionDefinition, version: number) => `${p.schema}.${p.name}_v${version}`;
/** the lock live writers share and a replay's swap takes exclusively */
export const projectionLockKey = (p: ProjectionDefinition) => `projection:${p.schema}.${p.name}`;
/** fed by a ProjectionSubscriber (after commit, checkpointed) rather than inline in the append */
export const isSubscriberFed = (p: ProjectionDefinition) => p.storeFeed === 'subscriber' && p.storeEvents.length > 0;

export function fromRecorded(event: RecordedEvent): LogEvent {
  return {
    origin: 'store',
    eventId: event.eventId,
    type: event.type,
    data: event.data,
    streamId: event.streamId,
    streamVersion: event.streamVersion,
    time: event.recordedAt,
  };
}

export function fromEnvelope(event: EventEnvelope): LogEvent {
  return {
    origin: 'inbox',
    eventId: event.id,
    type: event.type,
    data: event.data,
    streamId: event.subject,
    streamVersion: event.streamversion,
    time: new Date(event.time),
  };
}

/** Applies events to the live projection, sharing the projection lock so a replay's swap waits for us. */
export async function applyLive(trx: Knex.Transaction, projection: ProjectionDefinition, events: readonly LogEvent[]): Promise<void> {
  const relevant = events.filter((e) =>
    e.origin === 'store' ? projection.storeEvents.includes(e.type) : projection.inboxEvents.includes(e.type),
  );
  if (relevant.length === 0) return;
  await trx.raw('select pg_advisory_xact_lock_shared(hashtext(?))', [projectionLockKey(projection)]);
  await projection.apply(trx, viewName(projection), relevant);
}

/** The projection as an inline projection of the event store (its own events, in the append transaction). */
export function inlineProjectionOf(projection: ProjectionDefinition): InlineProjection {
  if (projection.storeFeed === 'subscriber') {
    // both would apply the same events: the read model would count them twice
    throw new Error(`projection ${viewName(projection)} is fed by a subscriber; it cannot also be inline`);
  }
  return {
    name: projection.name,
    handles: projection.storeEvents,
    apply: (trx, events) => applyLive(trx, projection, events.map(fromRecorded)),
  };
}

/** Registry of the live version of each projection of a schema (platform migration). */
export function projectionRegistryMigration(schema: string): Migration {
  return {
    name: 'platform_003_projections',
    async up(knex) {
      await knex.raw(
        `create table ??.projections (
           name         text primary key,
           version      integer not null,
           live_table   text not null,
           rebuilt_at   timestamptz,
           updated_at   timestamptz not null default now()
         )`,
        [schema],
      );
    },
  };
}

/** The migration that creates a projection's first table and its view. */
export function projectionMigration(projection: ProjectionDefinition): Migration {
  return {
    name: `projection_${projection.name}_v1`,
    async up(knex) {
      const table = versionTable(projection, 1);
      await projection.createTable(knex, table);
      await knex.raw(`create view ${viewName(projection)} as select * from ${table}`);
      await knex.raw('insert into ??.projections (name, version, live_table) values (?, 1, ?)', [projection.schema, projection.name, table]);
    },
  };
}

/**
 * Where a subscriber-fed projection's physical tables stand in the store: one checkpoint per physical
 * table (not per projection), so a replay that swaps in a new table brings its own checkpoint along and
 * events are never applied twice to a table or skipped by one (platform migration).
 */
export function projectionCheckpointsMigration(schema: string): Migration {
  return {
    name: 'platform_004_projection_checkpoints',
    async up(knex) {
      await knex.raw(
        `create table ??.projection_checkpoints (
           physical_table text primary key,
           transaction_id xid8 not null,
           position       bigint not null,
           updated_at     timestamptz not null default now()
         )`,
        [schema],
      );
    },
  };
}

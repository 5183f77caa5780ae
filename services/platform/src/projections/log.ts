import type { Knex } from 'knex';
import type { Upcaster } from '../eventstore/store';
import { startOfStore, type EventMetadata, type GlobalCheckpoint, type RecordedEvent } from '../eventstore/types';
import { fromRecorded, type LogEvent } from './definition';

/**
 * A service's local log: its own events (`<schema>.events`) and the events it consumed
 * (`<schema>.inbox`). Both tables carry the writing transaction's id (xid8, one counter for the whole
 * database), so they are read in the same safe order — (transaction id, position) — and merged into
 * one deterministic sequence: by transaction id, a transaction's inbox rows before its own events (the
 * consumed event caused them), then by position.
 */

/** A log event with its place in its table's safe order. */
export interface PositionedLogEvent extends LogEvent {
  readonly transactionId: string;
  readonly position: number;
  /** W3C trace context of the work that recorded (store) or produced (inbox) the event, if any */
  readonly traceparent?: string;
}

/** How far a reader has gone in each table. */
export interface LogPosition {
  readonly store: GlobalCheckpoint;
  readonly inbox: GlobalCheckpoint;
}
export const startOfLog: LogPosition = { store: startOfStore, inbox: startOfStore };

/**
 * How far one read may go in a table:
 * - `safe`: only transactions older than the oldest one still in flight, so nothing can later commit
 *   behind the reader (what a checkpointed reader needs);
 * - `{ upTo }`: up to and including a checkpoint that was safe when it was taken;
 * - `committed`: every committed row — right only while every writer that could still add a relevant
 *   row is known to be blocked (a replay's swap holds the projection's exclusive lock).
 */
export type LogBound = 'safe' | 'committed' | { readonly upTo: GlobalCheckpoint };

export interface LogReadOptions {
  readonly from: LogPosition;
  readonly storeTypes: readonly string[];
  readonly inboxTypes: readonly string[];
  /** rows read per table per call */
  readonly limit: number;
  readonly storeBound: LogBound;
  readonly inboxBound: LogBound;
  readonly upcasters?: Readonly<Record<string, Upcaster>>;
  /** the xmin a safe read stops at, when the caller already took it (else read here) */
  readonly xmin?: string;
}

export interface LogRead {
  /** merged, in log order */
  readonly events: PositionedLogEvent[];
  /** where the next read starts */
  readonly next: LogPosition;
  /** true when a table had more rows than the limit (read again) */
  readonly more: boolean;
}

interface StoreRow {
  position: number;
  xid_text: string;
  event_id: string;
  stream_id: string;
  stream_version: number;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: EventMetadata;
  recorded_at: Date;
}

interface InboxRow {
  position: number;
  xid_text: string;
  event_id: string;
  type: string;
  subject: string;
  stream_version: number;
  time: Date;
  data: unknown;
  traceparent: string | null;
}

/** The oldest transaction still in flight (as text); rows of older transactions are final. */
export async function currentXmin(db: Knex): Promise<string> {
  const { rows } = (await db.raw('select pg_snapshot_xmin(pg_current_snapshot())::text as xmin')) as { rows: { xmin: string }[] };
  return rows[0]!.xmin;
}

function bounded(q: Knex.QueryBuilder, bound: LogBound, xmin: string | undefined): Knex.QueryBuilder {
  if (bound === 'safe') {
    if (xmin === undefined) throw new Error('a safe read needs the current xmin');
    return q.whereRaw('transaction_id < ?::xid8', [xmin]);
  }
  if (bound === 'committed') return q;
  return q.whereRaw('(transaction_id, position) <= (?::xid8, ?::bigint)', [bound.upTo.transactionId, bound.upTo.position]);
}

/** Own events of the given types after a checkpoint, in safe order. */
export async function readStoreEvents(
  db: Knex,
  schema: string,
  options: { after: GlobalCheckpoint; types: readonly string[]; limit: number; bound: LogBound; xmin?: string; upcasters?: Readonly<Record<string, Upcaster>> },
): Promise<PositionedLogEvent[]> {
  if (options.types.length === 0) return [];
  const q = db(`${schema}.events`)
    .select('position', db.raw('transaction_id::text as xid_text'), 'event_id', 'stream_id', 'stream_version', 'type', 'schema_version', 'data', 'metadata', 'recorded_at')
    .whereRaw('(transaction_id, position) > (?::xid8, ?::bigint)', [options.after.transactionId, options.after.position])
    .whereIn('type', [...options.types])
    .orderByRaw('transaction_id, position')
    .limit(options.limit);
  const xmin = options.bound === 'safe' ? (options.xmin ?? (await currentXmin(db))) : undefined;
  const rows = (await bounded(q, options.bound, xmin)) as StoreRow[];
  return rows.map((row) => {
    let recorded: RecordedEvent = {
      position: row.position,
      transactionId: row.xid_text,
      eventId: row.event_id,
      streamId: row.stream_id,
      streamVersion: row.stream_version,
      type: row.type,
      schemaVersion: row.schema_version,
      data: row.data,
      metadata: row.metadata,
      recordedAt: row.recorded_at,
    };
    const upcast = options.upcasters?.[recorded.type];
    if (upcast) recorded = upcast(recorded);
    // its place added key by key, not `{ ...fromRecorded(recorded), … }`: V8 (Node 20) takes microseconds
    // to add keys after a spread (bench:spread), and this runs for every event the live projections or a replay read
    const positioned = fromRecorded(recorded) as { -readonly [K in keyof PositionedLogEvent]: PositionedLogEvent[K] };
    positioned.transactionId = row.xid_text;
    positioned.position = row.position;
    const traceparent = recorded.metadata?.traceparent;
    if (traceparent) positioned.traceparent = traceparent;
    return positioned;
  });
}

/** Consumed events of the given types after a checkpoint, in safe order. */
export async function readInboxEvents(
  db: Knex,
  schema: string,
  options: { after: GlobalCheckpoint; types: readonly string[]; limit: number; bound: LogBound; xmin?: string },
): Promise<PositionedLogEvent[]> {
  if (options.types.length === 0) return [];
  const q = db(`${schema}.inbox`)
    .select('position', db.raw('transaction_id::text as xid_text'), 'event_id', 'type', 'subject', 'stream_version', 'time', 'data', db.raw(`envelope->>'traceparent' as traceparent`))
    .whereRaw('(transaction_id, position) > (?::xid8, ?::bigint)', [options.after.transactionId, options.after.position])
    .whereIn('type', [...options.types])
    .orderByRaw('transaction_id, position')
    .limit(options.limit);
  const xmin = options.bound === 'safe' ? (options.xmin ?? (await currentXmin(db))) : undefined;
  const rows = (await bounded(q, options.bound, xmin)) as InboxRow[];
  return rows.map((row) => ({
    origin: 'inbox' as const,
    eventId: row.event_id,
    type: row.type,
    data: row.data,
    streamId: row.subject,
    streamVersion: row.stream_version,
    time: row.time,
    transactionId: row.xid_text,
    position: row.position,
    ...(row.traceparent ? { traceparent: row.traceparent } : {}),
  }));
}

/** Log order: transaction id, then a transaction's inbox rows before its own events, then position. */
export function compareLogOrder(a: PositionedLogEvent, b: PositionedLogEvent): number {
  const ta = BigInt(a.transactionId);
  const tb = BigInt(b.transactionId);
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a.origin !== b.origin) return a.origin === 'inbox' ? -1 : 1;
  return a.position - b.position;
}

export function compareCheckpoints(a: GlobalCheckpoint, b: GlobalCheckpoint): number {
  const ta = BigInt(a.transactionId);
  const tb = BigInt(b.transactionId);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.position - b.position;
}

export function laterCheckpoint(...checkpoints: GlobalCheckpoint[]): GlobalCheckpoint {
  return checkpoints.reduce((a, b) => (compareCheckpoints(a, b) >= 0 ? a : b), startOfStore);
}

/** The place of a log event in its table's safe order, as a checkpoint. */
export const checkpointOf = (event: PositionedLogEvent): GlobalCheckpoint => ({ transactionId: event.transactionId, position: event.position });

/**
 * Reads the next part of the merged log. Each table is read up to `limit` rows; when one of them was
 * cut off by the limit, only events up to its last row are returned (the other table's later rows could
 * otherwise overtake rows of the first one not read yet) — they are read again next time.
 */
export async function readLog(db: Knex, schema: string, options: LogReadOptions): Promise<LogRead> {
  const needsXmin = options.storeBound === 'safe' || options.inboxBound === 'safe';
  // one xmin for both tables, so both are cut at the same point in time
  const xmin = needsXmin ? (options.xmin ?? (await currentXmin(db))) : undefined;
  const store = await readStoreEvents(db, schema, {
    after: options.from.store,
    types: options.storeTypes,
    limit: options.limit,
    bound: options.storeBound,
    ...(xmin ? { xmin } : {}),
    ...(options.upcasters ? { upcasters: options.upcasters } : {}),
  });
  const inbox = await readInboxEvents(db, schema, {
    after: options.from.inbox,
    types: options.inboxTypes,
    limit: options.limit,
    bound: options.inboxBound,
    ...(xmin ? { xmin } : {}),
  });
  const storeFull = store.length === options.limit;
  const inboxFull = inbox.length === options.limit;
  let merged = [...inbox, ...store].sort(compareLogOrder);
  const cuts = [storeFull ? store.at(-1)! : undefined, inboxFull ? inbox.at(-1)! : undefined].filter((e) => e !== undefined);
  if (cuts.length > 0) {
    const cut = cuts.reduce((a, b) => (compareLogOrder(a, b) <= 0 ? a : b));
    merged = merged.filter((e) => compareLogOrder(e, cut) <= 0);
  }
  // the last event of each table (the merged order keeps each table's own order)
  let lastStore = options.from.store;
  let lastInbox = options.from.inbox;
  for (const event of merged) {
    if (event.origin === 'store') lastStore = checkpointOf(event);
    else lastInbox = checkpointOf(event);
  }
  const next: LogPosition = { store: lastStore, inbox: lastInbox };
  return { events: merged, next, more: storeFull || inboxFull };
}

/** How many events of the given types each table holds after a position (for progress). */
export async function countLog(
  db: Knex,
  schema: string,
  options: { from: LogPosition; storeTypes: readonly string[]; inboxTypes: readonly string[] },
): Promise<number> {
  const count = async (table: string, types: readonly string[], after: GlobalCheckpoint) => {
    if (types.length === 0) return 0;
    const row = (await db(`${schema}.${table}`)
      .whereIn('type', [...types])
      .whereRaw('(transaction_id, position) > (?::xid8, ?::bigint)', [after.transactionId, after.position])
      .count('* as n')
      .first()) as { n: number | string } | undefined;
    return Number(row?.n ?? 0);
  };
  const [store, inbox] = await Promise.all([
    count('events', options.storeTypes, options.from.store),
    count('inbox', options.inboxTypes, options.from.inbox),
  ]);
  return store + inbox;
}

/** The last own event of the given types that is final (older than every transaction in flight). */
export async function lastSafeStoreEvent(db: Knex, schema: string, types: readonly string[]): Promise<GlobalCheckpoint> {
  if (types.length === 0) return startOfStore;
  const xmin = await currentXmin(db);
  const row = (await db(`${schema}.events`)
    .select(db.raw('transaction_id::text as xid_text'), 'position')
    .whereIn('type', [...types])
    .whereRaw('transaction_id < ?::xid8', [xmin])
    .orderByRaw('transaction_id desc, position desc')
    .first()) as { xid_text: string; position: number } | undefined;
  return row ? { transactionId: row.xid_text, position: row.position } : startOfStore;
}

/** What travels with every recorded event besides its data. */
export interface EventMetadata {
  /** the whole conversation: the first request or event of a chain */
  correlationId: string;
  /** the request or event that directly caused this one */
  causationId: string;
  /** who did it: a user id, or `service:<name>` */
  actor?: string;
  requestId?: string;
  /** W3C trace context of the work that recorded the event, restored when it is published */
  traceparent?: string;
  tracestate?: string;
  [key: string]: unknown;
}

export interface NewEvent {
  readonly type: string;
  readonly data: unknown;
  /** supplied when the caller needs an idempotent id; otherwise generated */
  readonly eventId?: string;
  readonly schemaVersion?: number;
  readonly metadata?: Partial<EventMetadata>;
}

export interface RecordedEvent<T extends string = string, D = unknown> {
  readonly position: number;
  /** xid8 of the appending transaction, as text */
  readonly transactionId: string;
  readonly eventId: string;
  readonly streamId: string;
  readonly streamVersion: number;
  readonly type: T;
  readonly schemaVersion: number;
  readonly data: D;
  readonly metadata: EventMetadata;
  readonly recordedAt: Date;
}

/** A place in the global, safe order of a store: (transaction id, position). */
export interface GlobalCheckpoint {
  readonly transactionId: string;
  readonly position: number;
}
export const startOfStore: GlobalCheckpoint = { transactionId: '0', position: 0 };

/** no_stream: the stream must not exist; a number: the stream must be exactly at that version; any: no check. */
export type ExpectedVersion = number | 'no_stream' | 'any';

export class ConcurrencyError extends Error {
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersion,
    readonly actual: number | undefined,
  ) {
    super(`stream ${streamId}: expected version ${String(expected)}, found ${actual ?? 'a concurrent append'}`);
    this.name = 'ConcurrencyError';
  }
}

export class DuplicateEventError extends Error {
  constructor(readonly eventIds: readonly string[]) {
    super(`event id already recorded: ${eventIds.join(', ')}`);
    this.name = 'DuplicateEventError';
  }
}

/** Business rules as pure functions: decide(command, state) → events; evolve(state, event) → state. */
export interface Decider<State, Command, Event extends { type: string; data: unknown }> {
  readonly initialState: () => State;
  readonly evolve: (state: State, event: Event) => State;
  readonly decide: (command: Command, state: State) => readonly Event[];
}

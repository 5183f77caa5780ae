import type { Logger } from '@anb/observability';
import { observeGauge } from '../metrics';
import { StoreListener, restOfInterval } from './storeListener';
import type { EventStore } from '../eventstore/store';
import { startOfStore, type GlobalCheckpoint, type RecordedEvent } from '../eventstore/types';

/** What a handler reports: how many leading events it finished (the checkpoint moves past those). */
export interface SubscriptionRoundResult {
  done: number;
  /** set when it stopped early; the round is retried from the checkpoint after a backoff */
  error?: Error;
}

export interface StoreSubscriptionOptions {
  store: EventStore;
  /** a connection string for the dedicated LISTEN connection that also holds the leader lock */
  databaseUrl: string;
  /** names the checkpoint and the leader lock (`relay:sns`, `files:cleanup`…) */
  name: string;
  logger: Logger;
  /** only these types are passed to the handler; the checkpoint moves past the others */
  types?: readonly string[];
  handle(events: readonly RecordedEvent[]): Promise<SubscriptionRoundResult>;
  readLimit?: number;
  /** fallback poll when no NOTIFY arrives (missed while reconnecting, say) */
  pollIntervalMs?: number;
  /**
   * After a round that found events but not a full read, the next starts at least this long after it
   * (0: at the next NOTIFY): events committed meanwhile gather into fewer, fuller rounds.
   */
  minRoundIntervalMs?: number;
}

export interface SubscriptionStatus {
  leader: boolean;
  checkpoint: GlobalCheckpoint;
  handled: number;
  lastHandledAt?: Date;
  lastError?: string;
  consecutiveFailures: number;
}

/**
 * Follows a service's own event store in its safe global order with a stored checkpoint, at least
 * once: woken by the store's NOTIFY, in rounds, retrying a failed round from the checkpoint with
 * backoff. Exactly one instance per name leads (an advisory lock held on its LISTEN connection); the
 * others stand by and take over when it goes. The outbox relay is one; the catalog's file cleanup is another.
 */
export class StoreSubscription {
  private readonly readLimit: number;
  private readonly pollIntervalMs: number;
  private readonly minRoundIntervalMs: number;
  private readonly listener: StoreListener;
  private running = false;
  private loopDone: Promise<void> | undefined;
  private readonly state: SubscriptionStatus = { leader: false, checkpoint: startOfStore, handled: 0, consecutiveFailures: 0 };

  private lagTimer: NodeJS.Timeout | undefined;
  private lagStats = { pending: 0, oldestAgeSeconds: 0 };

  constructor(private readonly options: StoreSubscriptionOptions) {
    this.readLimit = options.readLimit ?? 200;
    this.pollIntervalMs = options.pollIntervalMs ?? 2000;
    this.minRoundIntervalMs = options.minRoundIntervalMs ?? 0;
    this.listener = new StoreListener({
      databaseUrl: options.databaseUrl,
      schema: options.store.schema,
      lockKey: `${options.store.schema}:${options.name}`,
      logger: options.logger,
      label: `subscription ${options.name}`,
    });
    const attributes = { subscription: options.name, schema: options.store.schema };
    observeGauge('anb.subscription.pending_events', 'Committed events this subscription has not handled yet (relay lag)', '{event}', () =>
      this.listener.leader ? [{ value: this.lagStats.pending, attributes }] : [],
    );
    observeGauge('anb.subscription.oldest_pending_age', 'Age of the oldest committed event not handled yet', 's', () =>
      this.listener.leader ? [{ value: this.lagStats.oldestAgeSeconds, attributes }] : [],
    );
  }

  /** How far behind it is: events after the checkpoint (capped) and the age of the oldest of them. */
  async lag(): Promise<{ pending: number; oldestAgeSeconds: number }> {
    const { store, types } = this.options;
    const cp = await this.readCheckpoint();
    const { rows } = (await store.db.raw(
      `select count(*)::int as pending, coalesce(extract(epoch from now() - min(recorded_at)), 0)::float as age
         from (select recorded_at from ??.events
                where (transaction_id, position) > (?::xid8, ?::bigint) ${types ? 'and type = any(?)' : ''}
                limit 100000) pending`,
      [store.schema, cp.transactionId, cp.position, ...(types ? [[...types]] : [])],
    )) as { rows: { pending: number; age: number }[] };
    return { pending: rows[0]?.pending ?? 0, oldestAgeSeconds: Math.max(0, rows[0]?.age ?? 0) };
  }

  status(): SubscriptionStatus {
    return { ...this.state, leader: this.listener.leader };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
    this.lagTimer = setInterval(() => {
      if (!this.listener.leader) return;
      this.lag().then(
        (lag) => (this.lagStats = lag),
        () => {},
      );
    }, 10_000);
    this.lagTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.lagTimer);
    this.running = false;
    this.listener.wake();
    await this.loopDone;
    await this.listener.close();
  }

  /**
   * Handles everything committed when it is called; returns how many events were read. Events that
   * are committed but not yet readable (an older transaction elsewhere is still open, holding back the
   * safe horizon) are waited for, up to `timeoutMs`. For tests and tools.
   */
  async drain(timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let total = 0;
    for (;;) {
      const n = await this.round();
      total += n;
      if (n > 0) continue;
      if ((await this.lag()).pending === 0) return total;
      if (Date.now() > deadline) throw new Error(`drain: events still pending after ${timeoutMs} ms (an open transaction holds them back)`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async loop(): Promise<void> {
    const log = this.options.logger;
    while (this.running) {
      if (!this.listener.leader) {
        const leading = await this.listener.lead().catch((error: unknown) => {
          log.warn({ err: error, subscription: this.options.name }, 'subscription: cannot connect its listener; retrying');
          return false;
        });
        if (!leading) {
          await this.listener.waitForWake(5000);
          continue;
        }
        log.info({ schema: this.options.store.schema, subscription: this.options.name }, 'subscription: leading');
      }
      try {
        // woken flags set while a round runs are kept: the next wait returns at once
        const started = performance.now();
        const read = await this.round();
        this.state.consecutiveFailures = 0;
        delete this.state.lastError;
        // more are probably on their way: let them gather into the next round
        if (read > 0 && read < this.readLimit && this.running) await restOfInterval(started, this.minRoundIntervalMs);
        if (read < this.readLimit) await this.listener.waitForWake(this.pollIntervalMs);
      } catch (error) {
        this.state.consecutiveFailures++;
        this.state.lastError = (error as Error).message;
        const delay = Math.min(30_000, 250 * 2 ** Math.min(this.state.consecutiveFailures, 7));
        log.error({ err: error, subscription: this.options.name, retryInMs: delay }, 'subscription: round failed; will retry from the checkpoint');
        await this.listener.waitForWake(delay);
      }
    }
  }

  private async readCheckpoint(): Promise<GlobalCheckpoint> {
    const row = (await this.options.store
      .db(`${this.options.store.schema}.relay_checkpoints`)
      .where({ name: this.options.name })
      .first('transaction_id', 'position')) as { transaction_id: string; position: number } | undefined;
    return row ? { transactionId: row.transaction_id, position: row.position } : startOfStore;
  }

  private async saveCheckpoint(checkpoint: GlobalCheckpoint): Promise<void> {
    await this.options.store.db.raw(
      `insert into ??.relay_checkpoints (name, transaction_id, position, updated_at) values (?, ?::xid8, ?, now())
       on conflict (name) do update set transaction_id = excluded.transaction_id, position = excluded.position, updated_at = now()`,
      [this.options.store.schema, this.options.name, checkpoint.transactionId, checkpoint.position],
    );
    this.state.checkpoint = checkpoint;
  }

  /** One round: read after the checkpoint, hand over, move the checkpoint past what the handler finished. */
  private async round(): Promise<number> {
    const after = await this.readCheckpoint();
    const events = await this.options.store.readAll({ after, limit: this.readLimit });
    if (events.length === 0) return 0;
    const types = this.options.types;
    const wanted = types ? events.filter((e) => types.includes(e.type)) : events;
    const result = wanted.length > 0 ? await this.options.handle(wanted) : { done: 0 };
    // events it was not given are done; the first wanted event it did not finish stops the checkpoint
    const finished = new Set(wanted.slice(0, result.done).map((e) => e.eventId));
    let n = 0;
    while (n < events.length && (finished.has(events[n]!.eventId) || (types !== undefined && !types.includes(events[n]!.type)))) n++;
    if (n > 0) {
      const last = events[n - 1]!;
      await this.saveCheckpoint({ transactionId: last.transactionId, position: last.position });
      this.state.handled += result.done;
      this.state.lastHandledAt = new Date();
    }
    if (result.error) throw result.error;
    return events.length;
  }
}

import type { Logger } from '@anb/observability';
import pg from 'pg';
import { followHere, leave } from '../eventstore/localFollowers';
import { notifyChannel } from '../eventstore/schema';

/**
 * What every follower of a store needs to lead and to be woken: a dedicated connection that holds an
 * advisory lock (exactly one instance per lock name leads; the others stand by and take over when the
 * leader's connection goes) and LISTENs to the store's NOTIFY channel; plus a wait that ends at the
 * next notification, an explicit wake-up or a timeout, whichever comes first. A notification that
 * arrives while the follower is busy is kept, so the next wait returns at once. From its first try
 * to lead until it closes, it is one of the store's followers in this process, which appends made
 * here wake directly while they all lead (`localFollowers`).
 */
export class StoreListener {
  private client: pg.Client | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;

  constructor(
    private readonly options: {
      databaseUrl: string;
      schema: string;
      /** names the advisory lock (and the connection in pg_stat_activity) */
      lockKey: string;
      logger: Logger;
      /** for log lines */
      label: string;
    },
  ) {}

  get leader(): boolean {
    return this.client !== undefined;
  }

  /** Tries to take the lock and listen; true when this instance now leads. */
  async lead(): Promise<boolean> {
    if (this.client) return true;
    const { databaseUrl, schema, lockKey, logger, label } = this.options;
    followHere(schema, this);
    const client = new pg.Client({ connectionString: databaseUrl, application_name: lockKey.slice(0, 63) });
    client.on('error', (error) => {
      logger.warn({ err: error }, `${label}: listener connection lost`);
      if (this.client === client) this.client = undefined;
      client.end().catch(() => {});
      this.wake();
    });
    try {
      await client.connect();
      const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock(hashtext($1)) as locked', [lockKey]);
      if (!rows[0]?.locked) {
        await client.end();
        return false;
      }
      client.on('notification', () => this.wake());
      await client.query(`listen "${notifyChannel(schema)}"`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    this.client = client;
    return true;
  }

  /** Gives up the lead (the lock goes with the connection). */
  async close(): Promise<void> {
    leave(this.options.schema, this);
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => {});
  }

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  async waitForWake(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeUp = undefined;
    this.woken = false;
  }
}

/**
 * Waits out what is left of `intervalMs` since `startedAt` (a `performance.now()`): a subscriber whose
 * round found a few events lets more gather before its next round (nothing to wait: undefined).
 */
export function restOfInterval(startedAt: number, intervalMs: number): Promise<void> | undefined {
  const rest = intervalMs - (performance.now() - startedAt);
  return rest > 0 ? new Promise((resolve) => setTimeout(resolve, rest)) : undefined;
}

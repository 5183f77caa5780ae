import { randomUUID } from 'node:crypto';
import { sourceOfEvent, type RawEnvelope } from '@anb/contracts';
import type { Knex } from 'knex';
import { migrate } from '../db';
import { eventStoreMigrations, inboxMigrations } from '../eventstore/schema';
import { EventStore } from '../eventstore/store';
import { projectionCheckpointsMigration, projectionMigration, projectionRegistryMigration, type ProjectionDefinition } from '../projections/definition';
import { mergeRows } from '../projections/merge';

/**
 * A small projection for platform tests: per owner, the number of VoteCast events (own events) and the
 * city of the owner's latest UserRegistered (consumed events) — order-independent like the real ones.
 */
export function tallyProjection(schema: string, options: { name?: string; storeFeed?: 'inline' | 'subscriber' } = {}): ProjectionDefinition {
  return {
    schema,
    name: options.name ?? 'tally',
    storeEvents: ['VoteCast'],
    ...(options.storeFeed ? { storeFeed: options.storeFeed } : {}),
    inboxEvents: ['UserRegistered'],
    key: ['owner_id'],
    ignoreInComparison: ['touched_at'],
    async createTable(knex, table) {
      await knex.raw(`create table ${table} (
        owner_id uuid primary key, votes integer not null default 0, last_vote_at timestamptz,
        city text, registered_at timestamptz, touched_at timestamptz not null default now())`);
    },
    async apply(trx, table, events) {
      const changes = new Map<string, { votes: number; last?: string; city?: string; registeredAt?: string }>();
      const of = (id: string) => changes.get(id) ?? changes.set(id, { votes: 0 }).get(id)!;
      for (const e of events) {
        if (e.type === 'VoteCast') {
          const c = of(e.data.ownerId);
          c.votes++;
          if (!c.last || e.data.castAt > c.last) c.last = e.data.castAt;
        } else if (e.type === 'UserRegistered') {
          const c = of(e.data.userId);
          if (!c.registeredAt || e.data.registeredAt > c.registeredAt) Object.assign(c, { city: e.data.city, registeredAt: e.data.registeredAt });
        }
      }
      type Row = { owner_id: string; votes: number; last_vote_at: Date | string | null; city: string | null; registered_at: Date | string | null };
      const iso = (v: Date | string | null | undefined) => (v == null ? undefined : new Date(v).toISOString());
      const max = (a?: string, b?: string) => (a === undefined ? b : b === undefined ? a : a > b ? a : b);
      await mergeRows<Row>(trx, table, {
        key: 'owner_id',
        keyType: 'uuid',
        keys: [...changes.keys()],
        columns: { owner_id: 'uuid', votes: 'integer', last_vote_at: 'timestamptz', city: 'text', registered_at: 'timestamptz' },
        merge: (row, id) => {
          const c = changes.get(id)!;
          const stored = iso(row.registered_at);
          const newer = c.registeredAt !== undefined && (stored === undefined || new Date(c.registeredAt).toISOString() > stored);
          return {
            owner_id: row.owner_id,
            votes: row.votes + c.votes,
            last_vote_at: max(iso(row.last_vote_at), iso(c.last)) ?? null,
            city: newer ? c.city! : row.city,
            registered_at: newer ? c.registeredAt! : (row.registered_at ?? null),
          };
        },
      });
    },
  };
}

/** A fresh schema with an event store, an inbox, the registry, the checkpoints and the given projections. */
export async function projectionSchema(db: Knex, schema: string, projections: readonly ProjectionDefinition[]): Promise<EventStore> {
  await migrate(db, schema, [
    ...eventStoreMigrations(schema),
    ...inboxMigrations(schema),
    projectionRegistryMigration(schema),
    projectionCheckpointsMigration(schema),
    ...projections.map(projectionMigration),
  ]);
  return new EventStore(db, schema);
}

export const voteCastEvent = (ownerId: string, castAt = new Date()) => ({
  type: 'VoteCast',
  data: { voteId: randomUUID(), videoId: randomUUID(), voterId: randomUUID(), ownerId, castAt: castAt.toISOString() },
});

export function userRegisteredEnvelope(userId: string, city: string, registeredAt = new Date()): RawEnvelope {
  const id = randomUUID();
  return {
    specversion: '1.0',
    id,
    source: sourceOfEvent('UserRegistered'),
    type: 'UserRegistered',
    time: new Date().toISOString(),
    subject: userId,
    datacontenttype: 'application/json',
    streamversion: 1,
    correlationid: id,
    causationid: id,
    data: { userId, firstName: 'A', lastName: 'B', city, country: 'Colombia', registeredAt: registeredAt.toISOString() },
  };
}

/** What the tally table must hold, computed straight from the log. */
export async function expectedTallies(db: Knex, schema: string): Promise<Map<string, number>> {
  const rows = (await db(`${schema}.events`).where({ type: 'VoteCast' }).select(db.raw(`data->>'ownerId' as owner`)).count('* as n').groupByRaw(`data->>'ownerId'`)) as {
    owner: string;
    n: string | number;
  }[];
  return new Map(rows.map((r) => [r.owner, Number(r.n)]));
}

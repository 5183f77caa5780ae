import type { Knex } from 'knex';
import type { Migration } from '../db';

/** The event store tables of a service's schema (events = outbox, relay checkpoints). */
export function eventStoreMigrations(schema: string): Migration[] {
  return [
    {
      name: 'platform_001_event_store',
      async up(knex: Knex) {
        await knex.raw(`
          create table ??.events (
            position       bigint generated always as identity primary key,
            transaction_id xid8 not null default pg_current_xact_id(),
            event_id       uuid not null,
            stream_id      text not null,
            stream_version integer not null check (stream_version > 0),
            type           text not null,
            schema_version integer not null default 1,
            data           jsonb not null,
            metadata       jsonb not null default '{}',
            recorded_at    timestamptz not null default now(),
            constraint events_stream_version_unique unique (stream_id, stream_version),
            constraint events_event_id_unique unique (event_id)
          )`, [schema]);
        // the safe global order readers use
        await knex.raw('create index events_tx_position on ??.events (transaction_id, position)', [schema]);
        await knex.raw('create index events_type on ??.events (type, position)', [schema]);
        // history is never rewritten: refuse updates and deletes at the database level
        await knex.raw(`
          create function ??.events_append_only() returns trigger language plpgsql as $$
          begin raise exception 'the event store is append-only (% on events)', tg_op; end $$`, [schema]);
        await knex.raw(
          `create trigger events_append_only before update or delete on ??.events
           for each row execute function ??.events_append_only()`,
          [schema, schema],
        );
        await knex.raw(`
          create table ??.relay_checkpoints (
            name           text primary key,
            transaction_id xid8 not null,
            position       bigint not null,
            updated_at     timestamptz not null default now()
          )`, [schema]);
      },
    },
  ];
}

/** The inbox of a consuming service: every consumed event, once, written with its effect. */
export function inboxMigrations(schema: string): Migration[] {
  return [
    {
      name: 'platform_002_inbox',
      async up(knex: Knex) {
        await knex.raw(`
          create table ??.inbox (
            event_id       uuid primary key,
            position       bigint generated always as identity unique,
            source         text not null,
            type           text not null,
            subject        text not null,
            stream_version integer not null,
            time           timestamptz not null,
            data           jsonb not null,
            envelope       jsonb not null,
            received_at    timestamptz not null default now(),
            -- read in the same safe order as events (replays never skip a late commit)
            transaction_id xid8 not null default pg_current_xact_id()
          )`, [schema]);
        await knex.raw('create index inbox_type on ??.inbox (type, position)', [schema]);
        await knex.raw('create index inbox_tx_position on ??.inbox (transaction_id, position)', [schema]);
      },
    },
  ];
}

export function notifyChannel(schema: string): string {
  return `anb_events_${schema}`;
}

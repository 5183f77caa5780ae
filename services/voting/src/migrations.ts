import {
  eventStoreMigrations,
  inboxMigrations,
  projectionCheckpointsMigration,
  projectionMigration,
  projectionRegistryMigration,
  type Migration,
} from '@anb/platform';
import { projections } from './projections';
import { votingSchema } from './schema';

export { votingSchema };

/**
 * Voting's events are all VoteCast, so the store's index on (type, position) — which lets a reader of a
 * few types among many skip the rest — never narrows anything here, and every vote paid for keeping it:
 * 6–11 µs of PostgreSQL's CPU per append of ~85 (bench:store, 50 writers). Readers filter by type along
 * the (transaction_id, position) index, which they read in anyway. A service whose store holds types
 * some reader skips keeps it.
 */
const eventsWithoutTypeIndex: Migration = {
  name: 'voting_001_events_without_type_index',
  async up(knex) {
    await knex.raw('drop index if exists ??.events_type', [votingSchema]);
  },
  async down(knex) {
    await knex.raw('create index if not exists events_type on ??.events (type, position)', [votingSchema]);
  },
};

/** event store (VoteCast) + inbox (consumed events) + projection registry/checkpoints + the read models' first versions */
export const votingMigrations: Migration[] = [
  ...eventStoreMigrations(votingSchema),
  ...inboxMigrations(votingSchema),
  projectionRegistryMigration(votingSchema),
  projectionCheckpointsMigration(votingSchema),
  ...projections.map(projectionMigration),
  eventsWithoutTypeIndex,
];

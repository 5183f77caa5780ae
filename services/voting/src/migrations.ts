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
/** event store (VoteCast) + inbox (consumed events) + projection registry/checkpoints + the read models' first versions */
export const votingMigrations: Migration[] = [
  ...eventStoreMigrations(votingSchema),
  ...inboxMigrations(votingSchema),
  projectionRegistryMigration(votingSchema),
  projectionCheckpointsMigration(votingSchema),
  ...projections.map(projectionMigration),
];

import {
  eventStoreMigrations,
  inboxMigrations,
  projectionMigration,
  projectionRegistryMigration,
  type Migration,
} from '@anb/platform';
import { idempotencyMigration } from './upload/idempotency';
import { catalogSchema, videosProjection } from './videos/videosProjection';

export const catalogMigrations: Migration[] = [
  ...eventStoreMigrations(catalogSchema),
  ...inboxMigrations(catalogSchema),
  projectionRegistryMigration(catalogSchema),
  projectionMigration(videosProjection),
  idempotencyMigration,
];

export { projections, schema } from './projections';
export { votingMigrations, votingSchema } from './migrations';

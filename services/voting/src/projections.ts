import type { ProjectionDefinition } from '@anb/platform';
import { playersProjection } from './players/playersProjection';
import { rankingProjection } from './ranking/rankingProjection';
import { votingSchema } from './schema';
import { publicVideosProjection } from './showcase/publicVideosProjection';

/**
 * voting's read models — what `main.ts` feeds (inbox + VoteCast subscriber) and what
 * `npm run replay -- voting <name>` rebuilds (the replay tool loads this module: `schema` + `projections`).
 */
export const schema = votingSchema;
export const projections: ProjectionDefinition[] = [playersProjection, publicVideosProjection, rankingProjection];

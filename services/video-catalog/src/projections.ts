import type { ProjectionDefinition } from '@anb/platform';
import { catalogSchema, videosProjection } from './videos/videosProjection';

/** The catalog's rebuildable read models (`npm run replay -- video-catalog <name>`). */
export const schema = catalogSchema;
export const projections: ProjectionDefinition[] = [videosProjection];

import { fileURLToPath } from 'node:url';
import type { EncodeAssets } from './args';

/**
 * The ANB logo (bumpers) and watermark: small PNGs with real alpha, committed in `services/processing/assets`
 * (made once by `scripts/generate-assets.ts`). Resolved from this module, not the working directory.
 */
export const anbAssets: EncodeAssets = {
  logoPng: fileURLToPath(new URL('../../assets/anb-logo.png', import.meta.url)),
  watermarkPng: fileURLToPath(new URL('../../assets/anb-watermark.png', import.meta.url)),
};

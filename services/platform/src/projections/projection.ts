/** Rebuildable read models: their definition and live application. */
export * from './definition';

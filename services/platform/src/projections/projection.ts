/**
 * Rebuildable read models: their definition and live application (definition.ts), the local log they
 * are rebuilt from (log.ts), batch read–merge–write (merge.ts), the checkpointed subscriber that feeds
 * them the service's own events after commit (subscriber.ts), and the replay that rebuilds, compares
 * and swaps them (replay.ts, compare.ts).
 */
export * from './definition';
export * from './log';
export * from './merge';
export * from './subscriber';
export * from './compare';
export * from './replay';

export * from './trace-ids';
export * from './logger';

export * from './context';
export * from './trace-ids';
export * from './logger';

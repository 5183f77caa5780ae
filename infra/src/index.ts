export * from './bootstrap';
export * from './runtime';

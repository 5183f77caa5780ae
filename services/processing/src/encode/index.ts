export * from './args';
export * from './assets';
export * from './verify';
export * from './encode';

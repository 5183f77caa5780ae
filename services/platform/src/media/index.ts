export * from './binaries';
export * from './input';
export * from './probe';
export * from './rules';
export * from './ffmpeg';
export { runningMediaProcesses } from './child';
export * from './synthetic';

/** What other packages (the benchmark, scripts) may use of processing; the service itself starts from main.ts. */
export * from './encode';
export { loadProcessingConfig, processingConfigSchema, type ProcessingConfig } from './config';
export { JobLedger, claimDecision, type ClaimResult, type JobRecord } from './ledger';
export { ProcessingEventPublisher, processingEnvelope, processingEventId } from './events';
export { ProcessingWorker, workerSettings, type WorkerDeps, type WorkerSettings } from './worker';
export { VideoFiles, createS3Client, originalKey, processedKey } from './videos';

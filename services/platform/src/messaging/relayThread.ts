import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { ServiceName } from '@anb/contracts';
import type { Logger } from '@anb/observability';
import { followHere, leave, type LocalFollower } from '../eventstore/localFollowers';
import { startOfStore } from '../eventstore/types';
import type { Lifecycle } from '../lifecycle';
import type { RelaySettings } from '../wiring';
import type { RelayStatus } from './relay';

/** What the main thread hands the relay's thread. */
export interface RelayThreadData {
  service: ServiceName;
  schema: string;
  config: RelaySettings;
}

/** main thread → relay thread */
export type ToRelayThread = { kind: 'wake' } | { kind: 'stop' };
/** relay thread → main thread */
export type FromRelayThread = { kind: 'status'; status: RelayStatus } | { kind: 'stopped' };

/** how long the relay's thread may take to stop (its round, its connections) before it is ended */
const stopTimeoutMs = 8000;
/** a thread that ended unexpectedly is started again after this */
const restartDelayMs = 1000;

/**
 * The code a relay thread starts with. A worker thread does not run the process's `--import` preloads,
 * so it loads tsx (the services run from TypeScript), OpenTelemetry when the process has it (the
 * relay's publish spans continue the traces of the events), then `relayWorker.ts`.
 */
function bootstrap(): string {
  const steps = [
    `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))});`,
    'register();',
    ...((globalThis as { __anbTelemetry?: unknown }).__anbTelemetry ? [`await import(${JSON.stringify(import.meta.resolve('@anb/observability/register'))});`] : []),
    `await import(${JSON.stringify(new URL('./relayWorker.ts', import.meta.url).href)});`,
  ];
  // (a failure to load ends the thread with an uncaught error: logged, and the thread started again)
  return `(async () => { ${steps.join(' ')} })().catch((error) => process.nextTick(() => { throw error; }));`;
}

/**
 * The outbox relay on a thread of its own (`relayWorker.ts`), with its own connections to PostgreSQL
 * and SNS. Its work — reading the events after its checkpoint, making their envelopes, signing and
 * sending PublishBatch calls, reading the answers — is a third to a half of a busy service's CPU (in
 * bench:votes, voting spent ~140 µs per vote on it of 300–350), and on the main thread every round
 * it ran made the requests that arrived meanwhile wait. On its own thread it runs beside them, on
 * the other core. Nothing else changes: the same relay, leader lock, checkpoint and at-least-once
 * publishing; a SIGTERM stops it as before (its round ends, its connections close).
 *
 * An append made on the main thread wakes it directly: it is one of the store's local followers here
 * (see `localFollowers`), leading while its thread reports that it leads, woken by a message. Its
 * status (for /health) is the one its thread last reported (at most 100 ms old). A thread that ends
 * unexpectedly is logged and started again.
 */
export function startRelayThread(options: {
  service: ServiceName;
  schema: string;
  config: RelaySettings;
  logger: Logger;
  lifecycle: Lifecycle;
}): { status(): RelayStatus } {
  const { service, schema, logger, lifecycle } = options;
  let status: RelayStatus = { leader: false, checkpoint: startOfStore, published: 0, consecutiveFailures: 0 };
  let worker: Worker | undefined;
  let stopping = false;
  const wake: ToRelayThread = { kind: 'wake' };
  const follower: LocalFollower = {
    get leader() {
      return worker !== undefined && status.leader;
    },
    wake() {
      worker?.postMessage(wake);
    },
  };

  const start = () => {
    const c = options.config;
    // (the settings it uses, not the whole config object: what crosses to a thread is copied)
    const config: RelaySettings = {
      AWS_REGION: c.AWS_REGION,
      ...(c.AWS_ENDPOINT_URL !== undefined ? { AWS_ENDPOINT_URL: c.AWS_ENDPOINT_URL } : {}),
      DATABASE_URL: c.DATABASE_URL,
      EVENTS_TOPIC_ARN: c.EVENTS_TOPIC_ARN,
      ...(c.RELAY_PARALLEL_BATCHES !== undefined ? { RELAY_PARALLEL_BATCHES: c.RELAY_PARALLEL_BATCHES } : {}),
      ...(c.RELAY_SNS_PIPELINING !== undefined ? { RELAY_SNS_PIPELINING: c.RELAY_SNS_PIPELINING } : {}),
      ...(c.DATABASE_PREPARE_HOT !== undefined ? { DATABASE_PREPARE_HOT: c.DATABASE_PREPARE_HOT } : {}),
      ...(c.LOG_LEVEL !== undefined ? { LOG_LEVEL: c.LOG_LEVEL } : {}),
    };
    const data: RelayThreadData = { service, schema, config };
    const thread = new Worker(bootstrap(), { eval: true, workerData: data, name: `${service} outbox relay` });
    thread.on('message', (message: FromRelayThread) => {
      if (message.kind === 'status') status = message.status;
    });
    thread.on('error', (error) => logger.error({ err: error }, 'outbox relay thread failed'));
    thread.on('exit', (code) => {
      if (worker === thread) worker = undefined;
      status = { ...status, leader: false };
      if (stopping) return;
      status = { ...status, lastError: `the relay's thread ended (code ${code})`, consecutiveFailures: status.consecutiveFailures + 1 };
      logger.error({ code }, `outbox relay thread ended unexpectedly; starting it again in ${restartDelayMs} ms`);
      setTimeout(() => {
        if (!stopping) start();
      }, restartDelayMs).unref();
    });
    worker = thread;
  };

  followHere(schema, follower);
  start();
  lifecycle.onStop('relay', async () => {
    stopping = true;
    leave(schema, follower);
    const thread = worker;
    if (!thread) return;
    const exited = once(thread, 'exit');
    const stop: ToRelayThread = { kind: 'stop' };
    thread.postMessage(stop);
    const timer = setTimeout(() => {
      logger.warn(`outbox relay thread did not stop within ${stopTimeoutMs} ms; ending it`);
      void thread.terminate();
    }, stopTimeoutMs);
    await exited;
    clearTimeout(timer);
  });
  return { status: () => status };
}

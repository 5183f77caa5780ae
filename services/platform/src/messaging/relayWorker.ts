/**
 * The outbox relay's thread (started by `startRelayThread`): its own database pool and SNS client, the
 * relay of the service's store, its status reported to the main thread every 100 ms when it changed,
 * woken when the main thread appends, stopped when told to.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '@anb/observability';
import { createDatabase } from '../db';
import { wakeFollowersHere } from '../eventstore/localFollowers';
import { EventStore } from '../eventstore/store';
import { openOutboxRelay } from '../wiring';
import type { FromRelayThread, RelayThreadData, ToRelayThread } from './relayThread';

if (!parentPort) throw new Error('relayWorker.ts runs as the outbox relay thread (startRelayThread), not on its own');
const port = parentPort;
const { service, schema, config } = workerData as RelayThreadData;

const logger = createLogger({ service, level: config.LOG_LEVEL ?? 'info' }).child({ thread: 'relay' });
// reads after the checkpoint and the checkpoint's update; the leader lock has its own connection
const db = createDatabase({ url: config.DATABASE_URL, poolMax: 2, applicationName: `${service} relay`, prepareHotStatements: config.DATABASE_PREPARE_HOT !== false });
const store = new EventStore(db, schema);
const { relay, close } = openOutboxRelay({ service, store, config, logger });
relay.start();

let reported = '';
const report = () => {
  const status = relay.status();
  const text = JSON.stringify(status);
  if (text === reported) return;
  reported = text;
  const message: FromRelayThread = { kind: 'status', status };
  port.postMessage(message);
};
report();
const reporting = setInterval(report, 100);

port.on('message', (message: ToRelayThread) => {
  if (message.kind === 'wake') wakeFollowersHere(schema);
  else if (message.kind === 'stop') void stop();
});

async function stop(): Promise<void> {
  clearInterval(reporting);
  try {
    await relay.stop();
    await close();
    await db.destroy();
    report();
    // this thread's spans and metrics (the main thread flushes its own)
    await (globalThis as { __anbTelemetry?: { shutdown(): Promise<void> } }).__anbTelemetry?.shutdown();
  } catch (error) {
    logger.error({ err: error }, 'outbox relay thread: stopping failed');
  }
  const stopped: FromRelayThread = { kind: 'stopped' };
  port.postMessage(stopped);
  port.close();
}

/**
 * `npm run bench:relay`: how many events per second the outbox relay publishes to the local AWS (moto)
 * with PublishBatch, and how long until a queue subscribed to the topic holds them all — with the
 * hand-written query-protocol publisher the services use (on parallel connections, as against AWS, and
 * pipelined on one connection, as the local stack sends to moto) and with the AWS SDK's, in turn,
 * with the CPU each costs per event (the relay's process and moto), three rounds. Prints figures.
 *
 *   BENCH_EVENTS=5000 npm run bench:relay
 */
import { randomUUID } from 'node:crypto';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, PurgeQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { bootstrapTopology } from '@anb/infra';
import { createLogger } from '@anb/observability';
import { EventStore, OutboxRelay, defaultRelayParallelBatches, QuerySnsPublisher, SdkSnsPublisher, awsClientConfig, createDatabase, eventStoreMigrations, migrate, type SnsBatchPublisher } from '@anb/platform';
import { startEmbeddedPostgres, startMoto, waitFor } from '@anb/platform/local';
import { cpuSecondsOf } from './cpu';
import { stopOnSignals } from './support';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// moto slows down as an unconsumed queue grows, so both runs start from an empty queue with the same count
const total = Number(process.env.BENCH_EVENTS ?? 500);
const streams = Number(process.env.BENCH_STREAMS ?? 500);

const [pg, moto] = await Promise.all([startEmbeddedPostgres(), startMoto()]);
stopOnSignals(() => Promise.allSettled([pg.stop(), moto.stop()]));
const db = createDatabase({ url: pg.url, poolMax: 20 });
const settings = { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: moto.endpoint };
const sns = new SNSClient(awsClientConfig(settings));
const sqs = new SQSClient(awsClientConfig(settings));
try {
  const resources = await bootstrapTopology({ region: 'us-east-1', endpoint: moto.endpoint, prefix: 'bench' });
  const schema = 'voting';
  await migrate(db, schema, eventStoreMigrations(schema));
  const store = new EventStore(db, schema);
  const videos = Array.from({ length: streams }, () => randomUUID());
  const tAppend = performance.now();
  for (let i = 0; i < total; i += 100) {
    await db.transaction(async (trx) => {
      for (let j = i; j < Math.min(total, i + 100); j++) {
        const videoId = videos[j % streams]!;
        await store.append(
          `vote:${videoId}:${j}`,
          [{ type: 'VoteCast', data: { voteId: randomUUID(), videoId, voterId: randomUUID(), ownerId: randomUUID(), castAt: new Date().toISOString() } }],
          { trx },
        );
      }
    });
  }
  const appendS = (performance.now() - tAppend) / 1000;

  // VoteCast goes to the catalog queue (its subscription filters on type)
  const queueUrl = resources.queues.catalog!.url;
  const logger = createLogger({ service: 'bench', level: 'warn' });
  console.log(`appended ${total} events in ${appendS.toFixed(1)} s (${Math.round(total / appendS)} events/s, 100 per transaction)`);
  // each publisher relays every event under its own checkpoint name, from an empty queue, in turn,
  // three times (the first round includes warming up: compare rounds 2 and 3)
  const runs: { name: string; publisher: SnsBatchPublisher }[] = [
    { name: 'lean', publisher: new QuerySnsPublisher(sns) },
    { name: 'lean, pipelined', publisher: new QuerySnsPublisher(sns, { pipelining: defaultRelayParallelBatches }) },
    { name: 'sdk', publisher: new SdkSnsPublisher(sns) },
  ];
  for (const round of [1, 2, 3]) {
    for (const { name, publisher } of runs) {
      await sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
      const relay = new OutboxRelay({
        store,
        databaseUrl: pg.url,
        publisher,
        topicArn: resources.topics['voting-events']!,
        source: 'anb.voting',
        publishes: ['VoteCast'],
        logger,
        name: `${name}-${round}`,
        readLimit: 500,
      });
      const cpu = process.cpuUsage();
      const motoCpu = cpuSecondsOf(moto.pid!);
      const t0 = performance.now();
      const published = await relay.drain();
      const publishS = (performance.now() - t0) / 1000;
      const used = process.cpuUsage(cpu);
      const relayUs = (used.user + used.system) / published;
      const motoUs = ((cpuSecondsOf(moto.pid!) - motoCpu) * 1e6) / published;
      await waitFor(
        async () => {
          const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
          return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) >= total;
        },
        { timeoutMs: 600_000, intervalMs: 200, message: 'every event in the queue' },
      );
      const deliveredS = (performance.now() - t0) / 1000;
      console.log(
        `${name.padEnd(15)} PublishBatch (round ${round}): ${published} events in ${publishS.toFixed(2)} s → ${Math.round(published / publishS)} events/s; ` +
          `CPU per event: relay process ${Math.round(relayUs)} µs (store reads included), moto ${Math.round(motoUs)} µs; all in the queue after ${deliveredS.toFixed(1)} s`,
      );
    }
  }
  await Promise.all(runs.map((r) => r.publisher.close()));

  // the same topic, one Publish per event (what a relay without batching would do), from an empty queue
  await sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
  const single = total;
  const t1 = performance.now();
  for (let i = 0; i < single; i++) {
    await sns.send(
      new PublishCommand({
        TopicArn: resources.topics['voting-events']!,
        Message: JSON.stringify({ i, pad: 'x'.repeat(500) }),
        MessageAttributes: { type: { DataType: 'String', StringValue: 'VoteCast' } },
      }),
    );
  }
  const singleS = (performance.now() - t1) / 1000;
  console.log(`baseline without batching: ${single} Publish calls in ${singleS.toFixed(1)} s → ${Math.round(single / singleS)} events/s`);
  console.log('(moto answers one call at a time and slows down as unconsumed queues grow: the local ceiling, not the relay)');
} finally {
  sns.destroy();
  sqs.destroy();
  await db.destroy();
  await Promise.allSettled([pg.stop(), moto.stop()]);
}

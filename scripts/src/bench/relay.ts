/**
 * `npm run bench:relay`: how many events per second the outbox relay publishes to the local AWS (moto)
 * with PublishBatch, and how long until a queue subscribed to the topic holds them all. Prints figures.
 *
 *   BENCH_EVENTS=5000 npm run bench:relay
 */
import { randomUUID } from 'node:crypto';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, PurgeQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { bootstrapTopology } from '@anb/infra';
import { createLogger } from '@anb/observability';
import { EventStore, OutboxRelay, awsClientConfig, createDatabase, eventStoreMigrations, migrate } from '@anb/platform';
import { startEmbeddedPostgres, startMoto, waitFor } from '@anb/platform/local';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// moto slows down as an unconsumed queue grows, so both runs start from an empty queue with the same count
const total = Number(process.env.BENCH_EVENTS ?? 500);
const streams = Number(process.env.BENCH_STREAMS ?? 500);

const [pg, moto] = await Promise.all([startEmbeddedPostgres(), startMoto()]);
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

  const relay = new OutboxRelay({
    store,
    databaseUrl: pg.url,
    sns,
    topicArn: resources.topics['voting-events']!,
    source: 'anb.voting',
    publishes: ['VoteCast'],
    logger: createLogger({ service: 'bench', level: 'warn' }),
    readLimit: 500,
  });
  const t0 = performance.now();
  const published = await relay.drain();
  const publishS = (performance.now() - t0) / 1000;
  // VoteCast goes to the catalog queue (its subscription filters on type)
  const queueUrl = resources.queues.catalog!.url;
  await waitFor(
    async () => {
      const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
      return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) >= total;
    },
    { timeoutMs: 600_000, intervalMs: 200, message: 'every event in the queue' },
  );
  const deliveredS = (performance.now() - t0) / 1000;
  console.log(`appended ${total} events in ${appendS.toFixed(1)} s (${Math.round(total / appendS)} events/s, 100 per transaction)`);
  console.log(`relay published ${published} events to moto in ${publishS.toFixed(1)} s → ${Math.round(published / publishS)} events/s (PublishBatch of 10, 4 batches in flight)`);
  console.log(`all ${total} in the subscribed SQS queue after ${deliveredS.toFixed(1)} s`);

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

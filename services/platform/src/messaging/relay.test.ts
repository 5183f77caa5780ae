import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { parseEnvelope } from '@anb/contracts';
import { SpanKind, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Knex } from 'knex';
import { awsClientConfig } from '../aws';
import { createDatabase, migrate } from '../db';
import { eventStoreMigrations } from '../eventstore/schema';
import { EventStore } from '../eventstore/store';
import { startTestAws, startTestDatabase, waitFor, type LocalAws, type LocalPostgres } from '../local';
import { localAwsClients, receiveAll, topicWithQueue } from '../test-support/aws';
import { testLogger } from '../test-support/logger';
import { OutboxRelay } from './relay';
import { QuerySnsPublisher } from './snsPublish';

let pg: LocalPostgres;
let aws: LocalAws & { prefix: string };
let db: Knex;
let sns: SNSClient;
let sqs: SQSClient;
let clients: ReturnType<typeof localAwsClients>;
let publisher: QuerySnsPublisher;
const logger = testLogger();

before(async () => {
  [pg, aws] = await Promise.all([startTestDatabase(), startTestAws()]);
  db = createDatabase({ url: pg.url });
  clients = localAwsClients(aws.endpoint);
  ({ sns, sqs } = clients);
  publisher = new QuerySnsPublisher(sns);
});
after(async () => {
  await publisher?.close();
  clients?.destroy();
  await db?.destroy();
  await Promise.all([pg?.stop(), aws?.stop()]);
});

const voteCast = (videoId: string) => ({
  type: 'VoteCast',
  data: { voteId: randomUUID(), videoId, voterId: randomUUID(), ownerId: randomUUID(), castAt: new Date().toISOString() },
});

async function freshStore(name: string) {
  const schema = `relay_${name}`;
  await migrate(db, schema, eventStoreMigrations(schema));
  const { topicArn, queueUrl } = await topicWithQueue(sns, sqs, `${aws.prefix}-${name}`);
  const store = new EventStore(db, schema);
  const relay = (options: Partial<ConstructorParameters<typeof OutboxRelay>[0]> = {}) =>
    new OutboxRelay({ store, databaseUrl: pg.url, publisher, topicArn, source: 'anb.voting', publishes: ['VoteCast'], logger, ...options });
  return { store, relay, queueUrl, schema };
}

describe('outbox relay', () => {
  test('publishes committed public events once, as valid envelopes, and skips private ones', async () => {
    const { store, relay, queueUrl } = await freshStore('basic');
    const videos = Array.from({ length: 7 }, () => randomUUID());
    for (let i = 0; i < 42; i++) {
      await store.append(`vote:${videos[i % 7]}`, [voteCast(videos[i % 7]!), { type: 'PrivateNote', data: { secret: true } }]);
    }
    const r = relay();
    assert.equal(await r.drain(), 84);
    const messages = await receiveAll(sqs, queueUrl, 42);
    assert.equal(messages.length, 42);
    const envelopes = messages.map((m) => parseEnvelope(m.Body!));
    assert.ok(envelopes.every((e) => e.type === 'VoteCast' && e.source === 'anb.voting'));
    assert.equal(new Set(envelopes.map((e) => e.id)).size, 42);
    assert.ok(messages.every((m) => m.MessageAttributes?.type?.StringValue === 'VoteCast'));
    // a second relay with the stored checkpoint has nothing left to do
    assert.equal(await relay().drain(), 0);
  });

  test('wakes at once on an append, not on its poll timer: directly while it leads here, by NOTIFY while a relay here stands by', async () => {
    const { store, relay, queueUrl } = await freshStore('notify');
    const r = relay({ pollIntervalMs: 120_000 });
    r.start();
    await waitFor(() => r.status().leader, { message: 'relay leads' });
    let started = Date.now();
    // a vote's append (a new stream, grouped): the relay is woken here, no NOTIFY
    await store.append(`vote:${randomUUID()}`, [voteCast(randomUUID())], { expectedVersion: 'no_stream' });
    assert.equal((await receiveAll(sqs, queueUrl, 1, 10_000)).length, 1);
    assert.ok(Date.now() - started < 10_000);
    // in a transaction of its own
    started = Date.now();
    await store.append(`vote:${randomUUID()}`, [voteCast(randomUUID())]);
    assert.equal((await receiveAll(sqs, queueUrl, 1, 10_000)).length, 1);
    assert.ok(Date.now() - started < 10_000);
    // with a standby here, appends made here NOTIFY, and the leader hears them on its connection
    const standby = relay({ pollIntervalMs: 120_000 });
    standby.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(standby.status().leader, false);
    started = Date.now();
    await store.append(`vote:${randomUUID()}`, [voteCast(randomUUID())], { expectedVersion: 'no_stream' });
    assert.equal((await receiveAll(sqs, queueUrl, 1, 10_000)).length, 1);
    assert.ok(Date.now() - started < 10_000);
    await standby.stop();
    await r.stop();
  });

  test('events that trickle in gather into rounds at least minRoundIntervalMs apart, and all are published', async () => {
    const { store, relay, queueUrl } = await freshStore('linger');
    const calls: number[] = [];
    const spy = {
      publishBatch: (arn: string, entries: Parameters<QuerySnsPublisher['publishBatch']>[1]) => {
        calls.push(performance.now());
        return publisher.publishBatch(arn, entries);
      },
      close: async () => {},
    };
    const r = relay({ publisher: spy, pollIntervalMs: 120_000, minRoundIntervalMs: 150 });
    r.start();
    await waitFor(() => r.status().leader, { message: 'relay leads' });
    // one vote every ~10 ms for ~400 ms
    for (let i = 0; i < 40; i++) {
      await store.append(`vote:${randomUUID()}`, [voteCast(randomUUID())], { expectedVersion: 'no_stream' });
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal((await receiveAll(sqs, queueUrl, 40, 20_000)).length, 40);
    await r.stop();
    // a round's calls go out together; the rounds themselves start minRoundIntervalMs apart or more
    // (a round's calls start in the same tick; a round's reads before its calls take a few ms more or less)
    const rounds = calls.filter((at, i) => i === 0 || at - calls[i - 1]! > 5);
    for (let i = 1; i < rounds.length; i++) assert.ok(rounds[i]! - rounds[i - 1]! >= 120, `round ${i} started ${(rounds[i]! - rounds[i - 1]!).toFixed(0)} ms after the one before`);
    assert.ok(rounds.length <= Math.ceil((calls.at(-1)! - calls[0]!) / 150) + 1, `${rounds.length} rounds`);
  });

  test('only one relay per store leads; a standby takes over when the leader stops', async () => {
    const { store, relay, queueUrl } = await freshStore('leader');
    const a = relay({ pollIntervalMs: 200 });
    const b = relay({ pollIntervalMs: 200 });
    a.start();
    await waitFor(() => a.status().leader, { message: 'a leads' });
    b.start();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(b.status().leader, false);
    await a.stop();
    await store.append(`vote:${randomUUID()}`, [voteCast(randomUUID())]);
    await waitFor(() => b.status().leader, { timeoutMs: 15_000, message: 'b takes over' });
    assert.equal((await receiveAll(sqs, queueUrl, 1)).length, 1);
    await b.stop();
  });

  test('does not move its checkpoint past events SNS did not take; resumes after a restart', async () => {
    const { store, relay, queueUrl, schema } = await freshStore('failure');
    for (let i = 0; i < 5; i++) await store.append(`vote:${randomUUID()}`, [voteCast(randomUUID())]);
    const deadSns = new SNSClient(awsClientConfig({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: 'http://127.0.0.1:9' }));
    const dead = new QuerySnsPublisher(deadSns);
    await assert.rejects(relay({ publisher: dead }).drain());
    await dead.close();
    deadSns.destroy();
    assert.equal((await db(`${schema}.relay_checkpoints`)).length, 0);
    const r = relay();
    assert.equal(await r.drain(), 5);
    assert.equal((await receiveAll(sqs, queueUrl, 5)).length, 5);
  });

  test('publishes the events of one stream in order, across batches and waves', async () => {
    const { store, relay, queueUrl } = await freshStore('order');
    const videoId = randomUUID();
    for (let i = 0; i < 25; i++) await store.append(`vote:${videoId}`, [voteCast(videoId)]);
    await relay().drain();
    const messages = await receiveAll(sqs, queueUrl, 25);
    const versions = messages.map((m) => parseEnvelope(m.Body!).streamversion).sort((x, y) => x - y);
    assert.deepEqual(versions, Array.from({ length: 25 }, (_, i) => i + 1));
  });

  // last: it installs a tracer for the rest of this file
  test('with tracing on, each event gets a publish span under the work that recorded it, and the message carries that span', async () => {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const { store, relay, queueUrl } = await freshStore('traced');
    const traceId = randomUUID().replaceAll('-', '');
    const recordedBy = randomUUID().replaceAll('-', '').slice(0, 16);
    const video = randomUUID();
    const { events } = await store.append(`vote:${video}`, [voteCast(video)], { metadata: { correlationId: randomUUID(), traceparent: `00-${traceId}-${recordedBy}-01` } });
    assert.equal(await relay().drain(), 1);
    const [span, ...others] = exporter.getFinishedSpans().filter((s) => s.name.endsWith(' publish'));
    assert.equal(others.length, 0);
    assert.equal(span!.kind, SpanKind.PRODUCER);
    assert.equal(span!.spanContext().traceId, traceId);
    assert.equal(span!.parentSpanContext?.spanId, recordedBy);
    const { 'messaging.sns.message_id': snsMessageId, ...attributes } = span!.attributes;
    assert.match(String(snsMessageId), /^[\w-]{20,}$/);
    assert.deepEqual(attributes, {
      'messaging.system': 'aws_sns',
      'messaging.operation.type': 'publish',
      'messaging.destination.name': span!.name.replace(/ publish$/, ''),
      'messaging.message.id': events[0]!.eventId,
      'anb.event.type': 'VoteCast',
      'anb.event.stream': `vote:${video}`,
      'anb.event.position': events[0]!.position,
    });
    const [message] = await receiveAll(sqs, queueUrl, 1);
    const carried = `00-${traceId}-${span!.spanContext().spanId}-01`;
    assert.equal(message!.MessageAttributes?.traceparent?.StringValue, carried);
    assert.equal(parseEnvelope(message!.Body!).traceparent, carried);
  });
});

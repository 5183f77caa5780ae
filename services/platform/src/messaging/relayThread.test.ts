import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { parseEnvelope } from '@anb/contracts';
import type { Knex } from 'knex';
import { createDatabase, migrate } from '../db';
import { everyFollowerLeadsHere } from '../eventstore/localFollowers';
import { eventStoreMigrations } from '../eventstore/schema';
import { EventStore } from '../eventstore/store';
import { Lifecycle } from '../lifecycle';
import { startTestAws, startTestDatabase, waitFor, type LocalAws, type LocalPostgres } from '../local';
import { localAwsClients, receiveAll, topicWithQueue } from '../test-support/aws';
import { testLogger } from '../test-support/logger';
import { startOutboxRelay } from '../wiring';

let pg: LocalPostgres;
let aws: LocalAws & { prefix: string };
let db: Knex;
let sqs: SQSClient;
let clients: ReturnType<typeof localAwsClients>;
const logger = testLogger();

before(async () => {
  [pg, aws] = await Promise.all([startTestDatabase(), startTestAws()]);
  db = createDatabase({ url: pg.url });
  clients = localAwsClients(aws.endpoint);
  sqs = clients.sqs;
});
after(async () => {
  clients?.destroy();
  await db?.destroy();
  await Promise.all([pg?.stop(), aws?.stop()]);
});

const voteCast = (videoId: string) => ({
  type: 'VoteCast',
  data: { voteId: randomUUID(), videoId, voterId: randomUUID(), ownerId: randomUUID(), castAt: new Date().toISOString() },
});

async function relayOnItsThread(name: string, config: { RELAY_THREAD?: boolean } = {}) {
  const schema = `relay_thread_${name}`;
  await migrate(db, schema, eventStoreMigrations(schema));
  const { topicArn, queueUrl } = await topicWithQueue(clients.sns, sqs, `${aws.prefix}-${name}`);
  const store = new EventStore(db, schema);
  const lifecycle = new Lifecycle(logger, 10_000);
  const relay = startOutboxRelay({
    service: 'voting',
    store,
    config: { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: aws.endpoint, DATABASE_URL: pg.url, EVENTS_TOPIC_ARN: topicArn, LOG_LEVEL: 'silent', ...config },
    logger,
    lifecycle,
  });
  return { schema, store, relay, lifecycle, queueUrl, topicArn };
}

describe('outbox relay on its own thread', () => {
  test('publishes what the main thread appends, woken at once while it leads; stops with the service', async () => {
    const { schema, store, relay, lifecycle, queueUrl } = await relayOnItsThread('basic');
    await waitFor(() => relay.status().leader, { timeoutMs: 20_000, message: "the relay's thread leads" });
    // it leads, from its thread: appends made here leave the NOTIFY out and wake it themselves
    assert.equal(everyFollowerLeadsHere(schema), true);
    const videoId = randomUUID();
    // votes (new streams, grouped), a transaction of their own, and a private event never published
    const appends = Array.from({ length: 30 }, () => store.append(`vote:${randomUUID()}`, [voteCast(videoId)], { expectedVersion: 'no_stream' }));
    await Promise.all(appends);
    await store.append(`vote:${randomUUID()}`, [voteCast(videoId), { type: 'PrivateNote', data: { secret: true } }]);
    // the relay polls every 2 s without a wake-up: 31 events within 1.5 s came through the wake-ups
    const started = Date.now();
    const messages = await receiveAll(sqs, queueUrl, 31, 10_000);
    assert.equal(messages.length, 31);
    assert.ok(Date.now() - started < 1500, `published in ${Date.now() - started} ms`);
    const envelopes = messages.map((m) => parseEnvelope(m.Body!));
    assert.ok(envelopes.every((e) => e.type === 'VoteCast' && e.source === 'anb.voting'));
    assert.equal(new Set(envelopes.map((e) => e.id)).size, 31);
    await waitFor(() => relay.status().published === 31, { timeoutMs: 5000, message: 'the status reports 31 published' });
    assert.equal(relay.status().consecutiveFailures, 0);
    assert.ok(relay.status().lastPublishedAt instanceof Date);

    await lifecycle.stop();
    assert.equal(relay.status().leader, false);
    // no longer a follower here: appends NOTIFY again (a relay elsewhere may lead)
    assert.equal(everyFollowerLeadsHere(schema), false);
    const { rows } = (await db.raw('select count(*)::int as n from pg_stat_activity where application_name = ?', ['voting relay'])) as { rows: { n: number }[] };
    assert.equal(rows[0]!.n, 0, "the relay thread's connections are closed");
  });

  test('a second one stands by while the first leads, and takes over when it stops', async () => {
    const first = await relayOnItsThread('standby');
    await waitFor(() => first.relay.status().leader, { timeoutMs: 20_000, message: 'the first leads' });
    const lifecycle = new Lifecycle(logger, 10_000);
    const second = startOutboxRelay({
      service: 'voting',
      store: first.store,
      config: { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: aws.endpoint, DATABASE_URL: pg.url, EVENTS_TOPIC_ARN: first.topicArn, LOG_LEVEL: 'silent' },
      logger,
      lifecycle,
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(second.status().leader, false);
    // one of the store's followers here stands by: appends NOTIFY
    assert.equal(everyFollowerLeadsHere(first.schema), false);
    await first.lifecycle.stop();
    await waitFor(() => second.status().leader, { timeoutMs: 20_000, message: 'the second takes over' });
    await first.store.append(`vote:${randomUUID()}`, [voteCast(randomUUID())], { expectedVersion: 'no_stream' });
    assert.equal((await receiveAll(sqs, first.queueUrl, 1, 10_000)).length, 1);
    await lifecycle.stop();
  });

  test('RELAY_THREAD=false runs it on the main thread, as before', async () => {
    const { store, relay, lifecycle, queueUrl } = await relayOnItsThread('inline', { RELAY_THREAD: false });
    await waitFor(() => relay.status().leader, { timeoutMs: 20_000, message: 'the relay leads' });
    await store.append(`vote:${randomUUID()}`, [voteCast(randomUUID())], { expectedVersion: 'no_stream' });
    assert.equal((await receiveAll(sqs, queueUrl, 1, 10_000)).length, 1);
    await lifecycle.stop();
  });
});

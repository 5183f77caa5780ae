import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { RawEnvelope } from '@anb/contracts';
import type { Knex } from 'knex';
import { createDatabase, migrate } from '../db';
import { inboxMigrations } from '../eventstore/schema';
import { startTestAws, startTestDatabase, waitFor, type LocalAws, type LocalPostgres } from '../local';
import { approximateCount, localAwsClients, receiveAll, topicWithQueue } from '../test-support/aws';
import { testLogger } from '../test-support/logger';
import { QueueConsumer, RetryLater, type MessageHandler } from './consumer';
import { inboxHandler } from './inbox';

let pg: LocalPostgres;
let aws: LocalAws & { prefix: string };
let db: Knex;
let sns: SNSClient;
let sqs: SQSClient;
let clients: ReturnType<typeof localAwsClients>;
const logger = testLogger();
const schema = 'inbox_test';

before(async () => {
  [pg, aws] = await Promise.all([startTestDatabase(), startTestAws()]);
  db = createDatabase({ url: pg.url });
  clients = localAwsClients(aws.endpoint);
  ({ sns, sqs } = clients);
  await migrate(db, schema, [
    ...inboxMigrations(schema),
    {
      name: 'test_profiles',
      async up(k) {
        await k.raw('create table inbox_test.profiles (user_id uuid primary key, city text not null, updates int not null default 1)');
      },
    },
  ]);
});
after(async () => {
  clients?.destroy();
  await db?.destroy();
  await Promise.all([pg?.stop(), aws?.stop()]);
});

function userRegistered(userId = randomUUID()): RawEnvelope {
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: 'anb.auth',
    type: 'UserRegistered',
    time: new Date().toISOString(),
    subject: userId,
    datacontenttype: 'application/json',
    streamversion: 1,
    correlationid: randomUUID(),
    causationid: randomUUID(),
    data: { userId, firstName: 'Ana', lastName: 'Pérez', city: 'Bogotá', country: 'Colombia', registeredAt: new Date().toISOString() },
  };
}

async function send(queueUrl: string, body: unknown, type = 'UserRegistered') {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: typeof body === 'string' ? body : JSON.stringify(body),
      MessageAttributes: { type: { DataType: 'String', StringValue: type } },
    }),
  );
}

const consumer = (queueUrl: string, handler: MessageHandler, extra: Partial<ConstructorParameters<typeof QueueConsumer>[0]> = {}) =>
  new QueueConsumer({ sqs, queueUrl, handler, logger, waitTimeSeconds: 1, backoff: { baseSeconds: 0, maxSeconds: 0 }, ...extra });

describe('queue consumer + inbox', () => {
  test('a duplicate delivery has no second effect', async () => {
    const { queueUrl } = await topicWithQueue(sns, sqs, `${aws.prefix}-dup`);
    const handler = inboxHandler({
      db,
      schema,
      logger,
      handlers: {
        UserRegistered: async (event, trx) => {
          await trx.raw(
            `insert into inbox_test.profiles (user_id, city) values (?, ?)
             on conflict (user_id) do update set updates = profiles.updates + 1`,
            [event.data.userId, event.data.city],
          );
        },
      },
    });
    const envelope = userRegistered();
    await send(queueUrl, envelope);
    await send(queueUrl, envelope);
    await send(queueUrl, envelope);
    const c = consumer(queueUrl, handler);
    c.start();
    await waitFor(() => c.counts.succeeded === 3, { message: 'three deliveries handled' });
    await c.stop();
    const row = await db('inbox_test.profiles').where({ user_id: envelope.data && (envelope.data as { userId: string }).userId }).first();
    assert.equal(row.updates, 1);
    assert.equal((await db('inbox_test.inbox').where({ event_id: envelope.id })).length, 1);
    await waitFor(async () => (await approximateCount(sqs, queueUrl)) === 0, { message: 'queue drained' });
  });

  test('a failing handler is retried, then the message lands in the DLQ — nothing is lost', async () => {
    const { queueUrl, dlqUrl } = await topicWithQueue(sns, sqs, `${aws.prefix}-fail`, { maxReceiveCount: 3 });
    let calls = 0;
    const c = consumer(queueUrl, async () => {
      calls++;
      throw new Error('database down');
    });
    await send(queueUrl, userRegistered());
    c.start();
    await waitFor(async () => (await approximateCount(sqs, dlqUrl)) === 1, { timeoutMs: 20_000, message: 'message in the DLQ' });
    await c.stop();
    assert.equal(calls, 3);
  });

  test('an invalid envelope is a permanent failure that goes to the DLQ without waiting on backoff', async () => {
    const { queueUrl, dlqUrl } = await topicWithQueue(sns, sqs, `${aws.prefix}-poison`, { maxReceiveCount: 2 });
    const handler = inboxHandler({ db, schema, logger, handlers: {} });
    const c = consumer(queueUrl, handler, { backoff: { baseSeconds: 60, maxSeconds: 60 } });
    await send(queueUrl, '{"not":"an envelope"}');
    c.start();
    await waitFor(async () => (await approximateCount(sqs, dlqUrl)) === 1, { timeoutMs: 20_000, message: 'poison message in the DLQ' });
    await c.stop();
  });

  test('a long handler keeps its message invisible with a heartbeat', async () => {
    const { queueUrl } = await topicWithQueue(sns, sqs, `${aws.prefix}-long`, { visibility: 2 });
    let calls = 0;
    const c = consumer(
      queueUrl,
      async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 5000));
      },
      { visibilityTimeoutSeconds: 2 },
    );
    const other = consumer(queueUrl, async () => {
      calls++;
    });
    await send(queueUrl, userRegistered());
    c.start();
    await waitFor(() => c.counts.inFlight === 1, { message: 'long handler running' });
    other.start();
    await waitFor(() => c.counts.succeeded === 1, { timeoutMs: 15_000, message: 'long handler done' });
    await Promise.all([c.stop(), other.stop()]);
    assert.equal(calls, 1);
  });

  test('stop releases a message whose handler outlives the grace period', async () => {
    const { queueUrl } = await topicWithQueue(sns, sqs, `${aws.prefix}-stop`, { visibility: 60 });
    let aborted = false;
    const c = consumer(queueUrl, (_m, ctx) => new Promise<void>((_resolve, reject) => {
      ctx.signal.addEventListener('abort', () => {
        aborted = true;
        reject(new Error('aborted'));
      });
    }));
    await send(queueUrl, userRegistered());
    c.start();
    await waitFor(() => c.counts.inFlight === 1, { message: 'handler running' });
    await c.stop(200);
    assert.ok(aborted);
    // visible again at once, not after the 60 s visibility timeout
    const again = await receiveAll(sqs, queueUrl, 1, 5000);
    assert.equal(again.length, 1);
  });

  test('RetryLater brings the message back after its delay without counting a failure', async () => {
    const { queueUrl, dlqUrl } = await topicWithQueue(sns, sqs, `${aws.prefix}-later`, { maxReceiveCount: 2 });
    const calls: number[] = [];
    const c = consumer(queueUrl, async () => {
      calls.push(Date.now());
      if (calls.length === 1) throw new RetryLater('another worker holds it', 2);
    });
    await send(queueUrl, userRegistered());
    c.start();
    await waitFor(() => c.counts.succeeded === 1, { timeoutMs: 20_000, message: 'handled on the second delivery' });
    await c.stop();
    assert.equal(calls.length, 2);
    assert.ok(calls[1]! - calls[0]! >= 1500, 'came back after about the requested delay');
    assert.equal(c.counts.failed, 0);
    assert.equal(await approximateCount(sqs, dlqUrl), 0);
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { CreateTopicCommand, PublishBatchCommand, SubscribeCommand, type SNSClient } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ConditionalCheckFailedException, CreateTableCommand, DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { awsClientConfig } from '../aws';
import { localAwsClients } from '../test-support/aws';
import { startMoto, type LocalAws } from './moto';

// its own moto, not the run's shared one: what it prints at start-up is part of what is checked
let moto: LocalAws;
const lines: string[] = [];
let sns: SNSClient;
let sqs: SQSClient;
let clients: ReturnType<typeof localAwsClients>;

before(async () => {
  moto = await startMoto({ onLog: (line) => lines.push(line) });
  clients = localAwsClients(moto.endpoint);
  ({ sns, sqs } = clients);
});
after(async () => {
  clients?.destroy();
  await moto?.stop();
});

async function counts(queueUrl: string) {
  const out = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return { visible: Number(out.Attributes?.ApproximateNumberOfMessages), inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible) };
}

async function queueArn(queueUrl: string) {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return out.Attributes!.QueueArn!;
}

describe('the local AWS (moto) with the platform’s mends', () => {
  test('every mend applies to the installed moto, and it says so at start-up', () => {
    const line = lines.find((l) => l.startsWith('anb moto mends:'));
    assert.ok(line, `no mends line in moto's output:\n${lines.join('\n')}`);
    for (const mend of ['sqs-send-in-constant-time', 'modules-listed-once', 'no-request-log', 'keep-alive', 'atomic-dynamodb-writes', 'query-parameters-by-prefix', 'publish-batch-answer-written', 'form-bodies-decoded-in-c', 'publish-batch-read-directly', 'action-methods-listed-once', 'request-ids-drawn-at-once', 'headers-read-without-email-parser', 'garbage-collected-less-often', 'backends-found-without-a-lock', 'topic-subscriptions-listed-directly', 'publish-batch-served-directly']) assert.ok(line.includes(mend), line);
  });

  test('the quicker form decoder, PublishBatch reader and header reader give what the readers they replace give, on random input', () => {
    // moto-mends-check.py compares them in Python (moto in-process), where their inputs can be generated freely
    const check = spawnSync('python3', [fileURLToPath(new URL('./moto-mends-check.py', import.meta.url))], {
      env: { ...process.env, PYTHONPATH: fileURLToPath(new URL('./moto-patches', import.meta.url)) },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(check.status, 0, `${check.stdout}\n${check.stderr}`);
    assert.match(check.stdout, /form_pairs: \d+ random bodies, same pairs as parse_qsl/);
    assert.match(check.stdout, /publish_batch_params: [1-9]\d* random batches, same parameters as moto's parser; [1-9]\d* with a binary attribute went the generic way/);
    assert.match(check.stdout, /fast_headers: \d+ random header blocks, same headers as the email parser \([1-9]\d* split directly\)/);
    assert.match(check.stdout, /action methods listed once: same as inspect's; request ids: 52 letters and digits, all different/);
    assert.match(check.stdout, /publish batch served directly: \d+ random calls, same answers and deliveries as the usual way \([1-9]\d* served directly, [1-9]\d* went the usual way\)/);
  });

  test('GetQueueAttributes still counts waiting and in-flight messages', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'mends-standard' }));
    await sqs.send(
      new SendMessageBatchCommand({ QueueUrl, Entries: ['a', 'b', 'c', 'd'].map((body) => ({ Id: body, MessageBody: body })) }),
    );
    assert.deepEqual(await counts(QueueUrl!), { visible: 4, inFlight: 0 });
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1, VisibilityTimeout: 60 }));
    assert.equal(received.Messages?.length, 1);
    assert.deepEqual(await counts(QueueUrl!), { visible: 3, inFlight: 1 });
  });

  test('a FIFO queue with content-based deduplication still drops a repeated body', async () => {
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({ QueueName: 'mends-dedup.fifo', Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' } }),
    );
    for (const body of ['same', 'same', 'other']) await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body, MessageGroupId: 'g' }));
    assert.equal((await counts(QueueUrl!)).visible, 2);
  });

  test('SNS still fans out to a subscribed queue through its filter policy, raw', async () => {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'mends-topic' }));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'mends-subscriber' }));
    await sns.send(
      new SubscribeCommand({
        TopicArn,
        Protocol: 'sqs',
        Endpoint: await queueArn(QueueUrl!),
        Attributes: { RawMessageDelivery: 'true', FilterPolicy: JSON.stringify({ type: ['Wanted'] }), FilterPolicyScope: 'MessageAttributes' },
      }),
    );
    await sns.send(
      new PublishBatchCommand({
        TopicArn,
        PublishBatchRequestEntries: ['Wanted', 'Unwanted', 'Wanted'].map((type, i) => ({
          Id: String(i),
          Message: `${type}-${i}`,
          MessageAttributes: { type: { DataType: 'String', StringValue: type } },
        })),
      }),
    );
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    assert.deepEqual(received.Messages?.map((m) => m.Body).sort(), ['Wanted-0', 'Wanted-2']);
  });

  test('a full PublishBatch is read exactly: entries 1 and 10 (one a prefix of the other), each with its own attributes', async () => {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'mends-batch-topic' }));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'mends-batch-subscriber' }));
    await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: await queueArn(QueueUrl!), Attributes: { RawMessageDelivery: 'true' } }));
    // entry i carries i % 3 + 1 attributes, so a parameter read from the wrong entry shows
    const attributesOf = (i: number) => Object.fromEntries(Array.from({ length: (i % 3) + 1 }, (_, a) => [`attr${a}`, `value-${i}-${a}`]));
    const out = await sns.send(
      new PublishBatchCommand({
        TopicArn,
        PublishBatchRequestEntries: Array.from({ length: 10 }, (_, i) => ({
          Id: `entry-${i + 1}`,
          Message: JSON.stringify({ n: i + 1, text: 'a "quoted", %escaped & long-ish body' }),
          MessageAttributes: Object.fromEntries(Object.entries(attributesOf(i + 1)).map(([k, v]) => [k, { DataType: 'String', StringValue: v }])),
        })),
      }),
    );
    assert.deepEqual(out.Successful?.map((s) => s.Id).sort(), Array.from({ length: 10 }, (_, i) => `entry-${i + 1}`).sort());
    const got = new Map<number, Record<string, string>>();
    while (got.size < 10) {
      const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], WaitTimeSeconds: 1 }));
      assert.ok(received.Messages?.length, `only ${got.size} of 10 arrived`);
      for (const m of received.Messages ?? []) {
        const body = JSON.parse(m.Body!) as { n: number; text: string };
        assert.equal(body.text, 'a "quoted", %escaped & long-ish body');
        got.set(body.n, Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue!])));
      }
    }
    for (let n = 1; n <= 10; n++) assert.deepEqual(got.get(n), attributesOf(n), `entry ${n}`);
  });

  test('a PublishBatch answer lists the refused entry with its code and the taken ones with their message ids', async () => {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'mends-refused-topic' }));
    const out = await sns.send(
      new PublishBatchCommand({
        TopicArn,
        PublishBatchRequestEntries: [
          { Id: 'small-1', Message: 'fits' },
          // over SNS's 256 KiB: refused, the others still published
          { Id: 'too-big', Message: 'x'.repeat(262_145) },
          { Id: 'small_2', Message: 'fits too' },
        ],
      }),
    );
    assert.deepEqual(out.Successful?.map((s) => s.Id).sort(), ['small-1', 'small_2']);
    assert.ok(out.Successful?.every((s) => /^[\w-]{20,}$/.test(s.MessageId ?? '')));
    assert.equal(out.Failed?.length, 1);
    assert.equal(out.Failed?.[0]?.Id, 'too-big');
    assert.equal(out.Failed?.[0]?.Code, 'InvalidParameter');
    assert.equal(out.Failed?.[0]?.SenderFault, true);
    assert.match(out.Failed?.[0]?.Message ?? '', /too long/i);
  });

  test('a PublishBatch SNS refuses whole gets its error as moto gives it: a missing topic, 11 entries, a repeated id', async () => {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'mends-refused-whole' }));
    const entries = (n: number, id = (i: number) => `e${i}`) => Array.from({ length: n }, (_, i) => ({ Id: id(i), Message: `m${i}` }));
    await assert.rejects(sns.send(new PublishBatchCommand({ TopicArn: `${TopicArn}-missing`, PublishBatchRequestEntries: entries(2) })), { name: 'NotFoundException' });
    await assert.rejects(sns.send(new PublishBatchCommand({ TopicArn, PublishBatchRequestEntries: entries(11) })), { name: 'TooManyEntriesInBatchRequestException' });
    await assert.rejects(sns.send(new PublishBatchCommand({ TopicArn, PublishBatchRequestEntries: entries(3, (i) => `e${i % 2}`) })), { name: 'BatchEntryIdsNotDistinctException' });
  });

  test('one connection carries several calls (keep-alive), a call with a body followed by one without', async () => {
    const { hostname, port } = new URL(moto.endpoint);
    const socket = connect(Number(port), hostname);
    let received = '';
    let closed = false;
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('close', () => (closed = true));
    const answers = () => received.split(/(?=HTTP\/1\.1 \d{3})/).filter(Boolean);
    const waitForAnswers = async (n: number) => {
      const deadline = Date.now() + 5000;
      // an answer is complete when its Content-Length worth of body has arrived
      const complete = (a: string) => {
        const [head, ...rest] = a.split('\r\n\r\n');
        const length = Number(/content-length: *(\d+)/i.exec(head ?? '')?.[1] ?? NaN);
        return Number.isFinite(length) && Buffer.byteLength(rest.join('\r\n\r\n'), 'latin1') >= length;
      };
      while (!(answers().length >= n && answers().slice(0, n).every(complete))) {
        if (Date.now() > deadline || closed) throw new Error(`no ${n} whole answers on the connection:\n${received}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const body = 'Action=ListTopics&Version=2010-03-31';
    socket.write(
      `POST / HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
        `Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
    );
    await waitForAnswers(1);
    socket.write(`GET /moto-api/ HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
    await waitForAnswers(2);
    socket.destroy();
    const [first, second] = answers();
    assert.match(first!, /^HTTP\/1\.1 200/);
    assert.match(first!, /ListTopicsResponse/);
    assert.doesNotMatch(first!.split('\r\n\r\n')[0]!, /connection: close/i);
    assert.match(second!, /^HTTP\/1\.1 200/);
  });

  test('a body too big to read ahead (an S3 upload of 3 MiB) still arrives whole', async () => {
    const s3 = new S3Client({ ...awsClientConfig({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: moto.endpoint }), forcePathStyle: true });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'mends-big' }));
      const bytes = Buffer.alloc(3 * 1024 * 1024, 7);
      bytes.write('start');
      await s3.send(new PutObjectCommand({ Bucket: 'mends-big', Key: 'big.bin', Body: bytes }));
      const got = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'mends-big', Key: 'big.bin' }))).Body!.transformToByteArray());
      assert.equal(got.length, bytes.length);
      assert.ok(got.equals(bytes));
    } finally {
      s3.destroy();
    }
  });

  test('of many racing conditional DynamoDB writes to one item exactly one passes, as in DynamoDB', async () => {
    const dynamo = new DynamoDBClient(awsClientConfig({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: moto.endpoint }));
    try {
      await dynamo.send(
        new CreateTableCommand({
          TableName: 'mends-claims',
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      for (const round of [1, 2, 3, 4, 5, 6]) {
        const id = `claim-${round}`;
        // the shape of processing's job claim: claim if nobody has, counting an attempt
        const outcomes = await Promise.allSettled(
          Array.from({ length: 16 }, (_, i) =>
            dynamo.send(
              new UpdateItemCommand({
                TableName: 'mends-claims',
                Key: { id: { S: id } },
                UpdateExpression: 'SET claimedBy = :me ADD attempts :one',
                ConditionExpression: 'attribute_not_exists(claimedBy)',
                ExpressionAttributeValues: { ':me': { S: `worker-${i}` }, ':one': { N: '1' } },
              }),
            ),
          ),
        );
        assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, `round ${round}: one claim passes`);
        for (const o of outcomes) if (o.status === 'rejected') assert.ok(o.reason instanceof ConditionalCheckFailedException, String(o.reason));
        const item = await dynamo.send(new GetItemCommand({ TableName: 'mends-claims', Key: { id: { S: id } }, ConsistentRead: true }));
        assert.equal(item.Item?.attempts?.N, '1', `round ${round}: one attempt counted`);
      }
    } finally {
      dynamo.destroy();
    }
  });

  test('requests are not written to the log', () => {
    assert.ok(lines.length > 0);
    assert.equal(lines.filter((l) => /"(GET|POST|PUT) \/.* HTTP\/1\.1"/.test(l)).length, 0, lines.join('\n'));
  });
});

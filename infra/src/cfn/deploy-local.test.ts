/**
 * Deploys messaging.yaml and storage.yaml to a local moto through CloudFormation (CreateStack, as
 * `aws cloudformation deploy` would), waits for CREATE_COMPLETE, then looks at what was created through
 * the SNS, SQS, S3 and DynamoDB APIs — the template really creates what the topology data describes.
 *
 * What moto cannot show: it accepts `AWS::SNS::Subscription` and `AWS::SQS::QueuePolicy` but silently
 * creates nothing for them. Those two are covered elsewhere: messaging.test.ts checks every subscription
 * (topic → queue, raw delivery, filter policy) and every queue policy (exactly the subscribed topics)
 * in the template against the topology data, and the local bootstrap (infra/src/bootstrap.ts), which
 * builds the same topology from the same data with real Subscribe/SetQueueAttributes calls, is what the
 * platform and end-to-end tests publish and consume through.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetBucketEncryptionCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { GetTopicAttributesCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { dlqName, messagingDefaults, queues, resourceName, storage, topics } from '@anb/contracts';
import { startTestAws, waitFor, type LocalAws } from '@anb/platform/local';
import { templatePath } from './template';
import { CloudFormationClient, CreateStackCommand, DeleteStackCommand, DescribeStacksCommand, type Stack } from '@aws-sdk/client-cloudformation';

const region = 'us-east-1';
const stackFiles = { messaging: 'messaging.yaml', storage: 'storage.yaml' } as const;

describe('messaging.yaml + storage.yaml deployed to moto', () => {
  let aws: LocalAws & { prefix: string };
  let cfn: CloudFormationClient;
  let sns: SNSClient;
  let sqs: SQSClient;
  let s3: S3Client;
  let dynamo: DynamoDBClient;
  const stackName = (kind: keyof typeof stackFiles) => `${aws.prefix}-${kind}`;
  const outputs: Record<string, Record<string, string>> = {};

  async function stackStatus(name: string) {
    const out = (await cfn.send(new DescribeStacksCommand({ StackName: name }))) ;
    return out.Stacks?.[0];
  }

  before(async () => {
    aws = await startTestAws();
    const config = { region, endpoint: aws.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
    cfn = new CloudFormationClient(config);
    sns = new SNSClient(config);
    sqs = new SQSClient(config);
    s3 = new S3Client({ ...config, forcePathStyle: true });
    dynamo = new DynamoDBClient(config);

    await Promise.all(
      (Object.keys(stackFiles) as (keyof typeof stackFiles)[]).map((kind) =>
        cfn.send(
          new CreateStackCommand({
            StackName: stackName(kind),
            TemplateBody: readFileSync(templatePath(stackFiles[kind]), 'utf8'),
            // the helper's prefix keeps tests that share one moto apart
            Parameters: [{ ParameterKey: 'Prefix', ParameterValue: aws.prefix }],
          }),
        ),
      ),
    );
    for (const kind of Object.keys(stackFiles) as (keyof typeof stackFiles)[]) {
      const stack = await waitFor(
        async () => {
          const s = await stackStatus(stackName(kind));
          if (s?.StackStatus?.endsWith('_FAILED') || s?.StackStatus === 'ROLLBACK_COMPLETE') {
            throw new Error(`${kind}: ${s.StackStatus} ${s.StackStatusReason ?? ''}`);
          }
          return s?.StackStatus === 'CREATE_COMPLETE' ? s : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100, message: `${kind} stack CREATE_COMPLETE` },
      );
      outputs[kind] = Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey!, o.OutputValue!]));
    }
  });

  after(async () => {
    // a shared moto (TEST_AWS_ENDPOINT_URL) outlives this file: leave nothing behind
    if (cfn && aws) {
      await Promise.allSettled((Object.keys(stackFiles) as (keyof typeof stackFiles)[]).map((kind) => cfn.send(new DeleteStackCommand({ StackName: stackName(kind) }))));
    }
    cfn?.destroy();
    sns?.destroy();
    sqs?.destroy();
    s3?.destroy();
    dynamo?.destroy();
    await aws?.stop();
  });

  test('every topic of the topology exists under its prefixed name', async () => {
    for (const topic of topics) {
      const arn = outputs.messaging![`${pascalOf(topic.name)}TopicArn`];
      assert.ok(arn?.endsWith(`:${resourceName(aws.prefix, topic.name)}`), `output ARN of ${topic.name}: ${arn}`);
      const attributes = await sns.send(new GetTopicAttributesCommand({ TopicArn: arn }));
      assert.equal(attributes.Attributes?.TopicArn, arn);
    }
  });

  test('every queue has its DLQ, redrive policy (maxReceiveCount 5) and retention (4 d; DLQ 14 d)', async () => {
    for (const queue of queues) {
      const { QueueUrl: url } = await sqs.send(new GetQueueUrlCommand({ QueueName: resourceName(aws.prefix, queue.name) }));
      const { QueueUrl: dlqUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: resourceName(aws.prefix, dlqName(queue)) }));
      const attributes = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
      const dlq = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['All'] }))).Attributes ?? {};

      assert.equal(Number(attributes.MessageRetentionPeriod), messagingDefaults.queueRetentionSeconds, `${queue.name} retention`);
      assert.equal(Number(attributes.VisibilityTimeout), queue.visibilityTimeoutSeconds, `${queue.name} visibility timeout`);
      assert.equal(Number(attributes.ReceiveMessageWaitTimeSeconds), messagingDefaults.receiveWaitTimeSeconds, `${queue.name} long polling`);
      const redrive = JSON.parse(attributes.RedrivePolicy ?? '{}') as { deadLetterTargetArn?: string; maxReceiveCount?: number | string };
      assert.equal(redrive.deadLetterTargetArn, dlq.QueueArn, `${queue.name} redrives to its DLQ`);
      assert.equal(Number(redrive.maxReceiveCount), messagingDefaults.maxReceiveCount, `${queue.name} maxReceiveCount`);
      assert.equal(Number(dlq.MessageRetentionPeriod), messagingDefaults.dlqRetentionSeconds, `${dlqName(queue)} retention`);
      assert.equal(outputs.messaging![`${pascalOf(queue.name)}QueueArn`], attributes.QueueArn);
    }
  });

  // moto's CloudFormation applies a bucket's encryption and tags only (not PublicAccessBlockConfiguration,
  // LifecycleConfiguration or the bucket policy) and ignores a table's TimeToLiveSpecification: those
  // properties are checked in the template against the topology's storage data by stacks.test.ts.
  test('the videos bucket exists under its prefixed name, encrypted', async () => {
    const bucket = resourceName(aws.prefix, storage.bucket.name);
    assert.equal(outputs.storage!.VideosBucketName, bucket);
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    const encryption = await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
    assert.equal(encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, 'AES256');
  });

  test('the job ledger table exists: PK videoId (string), on demand', async () => {
    const table = resourceName(aws.prefix, storage.jobLedger.name);
    assert.equal(outputs.storage!.JobsTableName, table);
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: table }));
    assert.deepEqual(Table?.KeySchema, [{ AttributeName: storage.jobLedger.partitionKey, KeyType: 'HASH' }]);
    assert.deepEqual(Table?.AttributeDefinitions, [{ AttributeName: storage.jobLedger.partitionKey, AttributeType: 'S' }]);
    assert.equal(Table?.BillingModeSummary?.BillingMode, 'PAY_PER_REQUEST');
  });
});

/** Output names use the template's logical ids (`catalog-events` → `CatalogEvents…`), spelled out here on purpose. */
function pascalOf(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}

import { CreateBucketCommand, PutBucketEncryptionCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateTopicCommand,
  ListSubscriptionsByTopicCommand,
  SNSClient,
  SetSubscriptionAttributesCommand,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import {
  dlqName,
  filterPolicy,
  messagingDefaults,
  queues,
  resourceName,
  storage,
  topicOfProducer,
  queueOfConsumer,
  topics,
  topologyProblems,
  type ServiceName,
} from '@anb/contracts';

export interface AwsTarget {
  region: string;
  /** a local emulator (moto, LocalStack); omitted for the real AWS */
  endpoint?: string;
  prefix: string;
}

export interface QueueResources {
  url: string;
  arn: string;
  dlqUrl: string;
  dlqArn: string;
}

export interface TopologyResources {
  prefix: string;
  topics: Record<string, string>; // logical name → ARN
  queues: Record<string, QueueResources>; // logical name → urls/arns
  bucket: string;
  jobTable: string;
}

export function clientConfig(target: AwsTarget) {
  const local = target.endpoint !== undefined;
  return {
    region: target.region,
    ...(local ? { endpoint: target.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  };
}

export function queuePolicy(queueArn: string, topicArns: readonly string[]): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AllowSnsFanOut',
        Effect: 'Allow',
        Principal: { Service: 'sns.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: queueArn,
        Condition: { ArnEquals: { 'aws:SourceArn': [...topicArns] } },
      },
    ],
  });
}

/**
 * Creates (or brings up to date) every messaging and storage resource of the topology on an AWS
 * endpoint, from the data in `contracts/`. Idempotent: running it again changes nothing, and a changed
 * filter policy is updated in place.
 */
export async function bootstrapTopology(target: AwsTarget): Promise<TopologyResources> {
  const problems = topologyProblems();
  if (problems.length > 0) throw new Error(`the topology data is inconsistent:\n${problems.join('\n')}`);
  const config = clientConfig(target);
  const sns = new SNSClient(config);
  const sqs = new SQSClient(config);
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const dynamo = new DynamoDBClient(config);
  try {
    const topicArns: Record<string, string> = {};
    for (const topic of topics) {
      const out = await sns.send(new CreateTopicCommand({ Name: resourceName(target.prefix, topic.name) }));
      topicArns[topic.name] = out.TopicArn!;
    }

    const queueResources: Record<string, QueueResources> = {};
    for (const queue of queues) {
      const dlq = await sqs.send(
        new CreateQueueCommand({
          QueueName: resourceName(target.prefix, dlqName(queue)),
          Attributes: { MessageRetentionPeriod: String(messagingDefaults.dlqRetentionSeconds) },
        }),
      );
      const dlqArn = await queueArn(sqs, dlq.QueueUrl!);
      const attributes = {
        MessageRetentionPeriod: String(messagingDefaults.queueRetentionSeconds),
        VisibilityTimeout: String(queue.visibilityTimeoutSeconds),
        ReceiveMessageWaitTimeSeconds: String(messagingDefaults.receiveWaitTimeSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: messagingDefaults.maxReceiveCount }),
      };
      const created = await sqs.send(new CreateQueueCommand({ QueueName: resourceName(target.prefix, queue.name) }));
      const url = created.QueueUrl!;
      const arn = await queueArn(sqs, url);
      const sourceTopics = queue.subscriptions.map((s) => topicArns[s.topic]!);
      // set separately so an existing queue is brought up to date too
      await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { ...attributes, Policy: queuePolicy(arn, sourceTopics) } }));
      queueResources[queue.name] = { url, arn, dlqUrl: dlq.QueueUrl!, dlqArn };

      for (const subscription of queue.subscriptions) {
        await ensureSubscription(sns, topicArns[subscription.topic]!, arn, JSON.stringify(filterPolicy(subscription)));
      }
    }

    const bucket = resourceName(target.prefix, storage.bucket.name);
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
    }
    await s3.send(
      new PutPublicAccessBlockCommand({
        Bucket: bucket,
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      }),
    );
    await s3.send(
      new PutBucketEncryptionCommand({
        Bucket: bucket,
        ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      }),
    );

    const jobTable = resourceName(target.prefix, storage.jobLedger.name);
    try {
      await dynamo.send(new DescribeTableCommand({ TableName: jobTable }));
    } catch (error) {
      if ((error as { name?: string }).name !== 'ResourceNotFoundException') throw error;
      await dynamo.send(
        new CreateTableCommand({
          TableName: jobTable,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: storage.jobLedger.partitionKey, AttributeType: 'S' }],
          KeySchema: [{ AttributeName: storage.jobLedger.partitionKey, KeyType: 'HASH' }],
        }),
      );
      await waitUntilTableExists({ client: dynamo, maxWaitTime: 30 }, { TableName: jobTable });
      await dynamo.send(
        new UpdateTimeToLiveCommand({
          TableName: jobTable,
          TimeToLiveSpecification: { AttributeName: storage.jobLedger.ttlAttribute, Enabled: true },
        }),
      );
    }

    return { prefix: target.prefix, topics: topicArns, queues: queueResources, bucket, jobTable };
  } finally {
    sns.destroy();
    sqs.destroy();
    s3.destroy();
    dynamo.destroy();
  }
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return out.Attributes!.QueueArn!;
}

async function ensureSubscription(sns: SNSClient, topicArn: string, queueArn: string, policy: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: token }));
    const existing = page.Subscriptions?.find((s) => s.Endpoint === queueArn && s.Protocol === 'sqs');
    if (existing?.SubscriptionArn && existing.SubscriptionArn !== 'PendingConfirmation') {
      await sns.send(
        new SetSubscriptionAttributesCommand({ SubscriptionArn: existing.SubscriptionArn, AttributeName: 'FilterPolicy', AttributeValue: policy }),
      );
      await sns.send(
        new SetSubscriptionAttributesCommand({ SubscriptionArn: existing.SubscriptionArn, AttributeName: 'RawMessageDelivery', AttributeValue: 'true' }),
      );
      return;
    }
    token = page.NextToken;
  } while (token);
  await sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: queueArn,
      Attributes: { RawMessageDelivery: String(messagingDefaults.rawMessageDelivery), FilterPolicy: policy, FilterPolicyScope: 'MessageAttributes' },
      ReturnSubscriptionArn: true,
    }),
  );
}

/** The environment a service needs to find its resources (what CloudFormation passes on ECS). */
export function serviceEnvironment(service: ServiceName, resources: TopologyResources): Record<string, string> {
  const env: Record<string, string> = { RESOURCE_PREFIX: resources.prefix };
  const topic = topicOfProducer(service);
  if (topic) env.EVENTS_TOPIC_ARN = resources.topics[topic.name]!;
  const queue = queueOfConsumer(service);
  if (queue) {
    env.EVENTS_QUEUE_URL = resources.queues[queue.name]!.url;
    env.EVENTS_DLQ_URL = resources.queues[queue.name]!.dlqUrl;
  }
  if (service === 'video-catalog' || service === 'processing' || service === 'voting') env.VIDEOS_BUCKET = resources.bucket;
  if (service === 'processing') env.JOBS_TABLE = resources.jobTable;
  return env;
}

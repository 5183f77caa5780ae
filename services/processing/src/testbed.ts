/**
 * The local AWS for processing's integration tests: the topology from the contracts on moto (own
 * prefix), clients, a tap queue subscribed to the processing topic to read what the worker announced,
 * and a way to play the catalog's part (originals in S3, VideoUploaded/VideoDeleted on its topic).
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { parseEnvelope, resourceName, type EventEnvelope, type RawEnvelope } from '@anb/contracts';
import { bootstrapTopology, queuePolicy, serviceEnvironment, type TopologyResources } from '@anb/infra';
import { awsClientConfig } from '@anb/platform';
import { startTestAws, waitFor, type LocalAws } from '@anb/platform/local';
import { createS3Client, originalKey } from './videos';

export interface Testbed {
  readonly aws: LocalAws & { prefix: string };
  readonly resources: TopologyResources;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  readonly dynamo: DynamoDBClient;
  readonly tap: EventTap;
  /** the environment `services/processing/src/main.ts` needs, as the local stack passes it */
  readonly serviceEnv: Record<string, string>;
  putOriginal(videoId: string, file: string): Promise<void>;
  /** publishes a VideoUploaded on the catalog topic, as the catalog's relay would; returns the envelope */
  /** the VideoUploaded envelope the catalog would publish for this video (not published) */
  uploadEnvelope(videoId: string): RawEnvelope;
  announceUpload(videoId: string, options?: { envelope?: RawEnvelope; traceparent?: string }): Promise<RawEnvelope>;
  announceDeletion(videoId: string): Promise<RawEnvelope>;
  objectSize(key: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

export async function startTestbed(): Promise<Testbed> {
  const aws = await startTestAws();
  const settings = { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: aws.endpoint };
  const resources = await bootstrapTopology({ region: settings.AWS_REGION, endpoint: aws.endpoint, prefix: aws.prefix });
  const s3 = createS3Client(settings);
  const sqs = new SQSClient(awsClientConfig(settings));
  const sns = new SNSClient(awsClientConfig(settings));
  const dynamo = new DynamoDBClient(awsClientConfig(settings));
  const tap = await EventTap.subscribe(sns, sqs, resources.topics['processing-events']!, resourceName(aws.prefix, 'processing-tap'));
  const catalogTopic = resources.topics['catalog-events']!;
  const ownerId = randomUUID();

  const publish = async (envelope: RawEnvelope) => {
    await sns.send(
      new PublishCommand({
        TopicArn: catalogTopic,
        Message: JSON.stringify(envelope),
        MessageAttributes: {
          type: { DataType: 'String', StringValue: envelope.type },
          source: { DataType: 'String', StringValue: envelope.source },
          ...(envelope.traceparent ? { traceparent: { DataType: 'String', StringValue: envelope.traceparent } } : {}),
        },
      }),
    );
    return envelope;
  };
  const catalogEnvelope = (type: 'VideoUploaded' | 'VideoDeleted', videoId: string, data: Record<string, unknown>): RawEnvelope => ({
    specversion: '1.0',
    id: randomUUID(),
    source: 'anb.video-catalog',
    type,
    time: new Date().toISOString(),
    subject: videoId,
    datacontenttype: 'application/json',
    streamversion: type === 'VideoUploaded' ? 1 : 2,
    correlationid: randomUUID(),
    causationid: randomUUID(),
    data,
  });

  const uploadEnvelope = (videoId: string) =>
    catalogEnvelope('VideoUploaded', videoId, {
      videoId,
      ownerId,
      title: 'Crossover y triple',
      originalKey: originalKey(videoId),
      sizeBytes: 1,
      durationSeconds: 21,
      width: 1920,
      height: 1080,
      uploadedAt: new Date().toISOString(),
    });

  return {
    aws,
    resources,
    s3,
    sqs,
    sns,
    dynamo,
    tap,
    serviceEnv: { AWS_REGION: settings.AWS_REGION, AWS_ENDPOINT_URL: aws.endpoint, ...serviceEnvironment('processing', resources) },
    async putOriginal(videoId, file) {
      await s3.send(new PutObjectCommand({ Bucket: resources.bucket, Key: originalKey(videoId), Body: await readFile(file), ContentType: 'video/mp4' }));
    },
    uploadEnvelope,
    announceUpload(videoId, options = {}) {
      const envelope = options.envelope ?? uploadEnvelope(videoId);
      return publish(options.traceparent ? { ...envelope, traceparent: options.traceparent } : envelope);
    },
    announceDeletion(videoId) {
      return publish(catalogEnvelope('VideoDeleted', videoId, { videoId, ownerId, deletedAt: new Date().toISOString() }));
    },
    async objectSize(key) {
      try {
        const out = await s3.send(new HeadObjectCommand({ Bucket: resources.bucket, Key: key }));
        return out.ContentLength;
      } catch (error) {
        if ((error as { name?: string }).name === 'NotFound') return undefined;
        throw error;
      }
    },
    async stop() {
      for (const client of [s3, sqs, sns, dynamo]) client.destroy();
      await aws.stop();
    },
  };
}

/** Everything published on a topic, read through a queue of the test's own (raw delivery, no filter). */
export class EventTap {
  /** every envelope seen so far, in arrival order */
  readonly seen: EventEnvelope[] = [];

  private constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  static async subscribe(sns: SNSClient, sqs: SQSClient, topicArn: string, queueName: string): Promise<EventTap> {
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: queueName }))).QueueUrl!;
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { Policy: queuePolicy(arn, [topicArn]) } }));
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: arn, Attributes: { RawMessageDelivery: 'true' } }));
    return new EventTap(sqs, queueUrl);
  }

  /** Reads what has arrived (one short poll) into `seen`. */
  async poll(waitSeconds = 1): Promise<void> {
    const out = await this.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: this.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds, MessageAttributeNames: ['All'] }),
    );
    const messages = out.Messages ?? [];
    for (const message of messages) {
      const envelope = parseEnvelope(message.Body ?? '');
      // the attributes the subscriptions filter on must match the envelope
      if (message.MessageAttributes?.type?.StringValue !== envelope.type) throw new Error(`type attribute differs from the envelope: ${message.Body}`);
      this.seen.push(envelope);
    }
    if (messages.length > 0) {
      await this.sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
      );
    }
  }

  /** The events about one video, in arrival order. */
  of(videoId: string): EventEnvelope[] {
    return this.seen.filter((e) => e.subject === videoId);
  }

  /** Polls until `count` events of `type` about `videoId` arrived; returns them. */
  async waitFor<T extends EventEnvelope['type']>(videoId: string, type: T, options: { count?: number; timeoutMs?: number } = {}): Promise<EventEnvelope<T>[]> {
    const count = options.count ?? 1;
    const matching = () => this.of(videoId).filter((e) => e.type === type) as unknown as EventEnvelope<T>[];
    return waitFor(
      async () => {
        if (matching().length >= count) return matching();
        await this.poll();
        return matching().length >= count ? matching() : undefined;
      },
      { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 10, message: `${count} × ${type} for ${videoId}` },
    );
  }
}

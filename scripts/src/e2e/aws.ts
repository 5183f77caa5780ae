import { randomUUID } from 'node:crypto';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { sourceOfEvent, validateEvent, type EventData, type EventType, type RawEnvelope } from '@anb/contracts';
import type { RunningStack } from '../stack/stack';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Direct access to the stack's local AWS, for checks a client cannot make (what is in the bucket…). */
export class StackAws {
  readonly s3: S3Client;
  readonly sns: SNSClient;
  constructor(private readonly stack: RunningStack) {
    const config = { region: 'us-east-1', endpoint: stack.awsEndpoint, credentials };
    this.s3 = new S3Client({ ...config, forcePathStyle: true });
    this.sns = new SNSClient(config);
  }

  async keys(prefix: string): Promise<string[]> {
    const out = await this.s3.send(new ListObjectsV2Command({ Bucket: this.stack.resources.bucket, Prefix: prefix }));
    return (out.Contents ?? []).map((o) => o.Key!);
  }

  /** Publishes an event on its producer's topic, as that service would (tests that play a service). */
  async publish<T extends EventType>(type: T, data: EventData<T>, options: { subject?: string; id?: string } = {}): Promise<string> {
    validateEvent(type, data);
    const source = sourceOfEvent(type);
    const topic = Object.entries(this.stack.resources.topics).find(([name]) => name === topicOf(source))![1];
    const id = options.id ?? randomUUID();
    const envelope: RawEnvelope = {
      specversion: '1.0',
      id,
      source,
      type,
      time: new Date().toISOString(),
      subject: options.subject ?? (data as { videoId?: string; userId?: string }).videoId ?? (data as { userId: string }).userId,
      datacontenttype: 'application/json',
      streamversion: 1,
      correlationid: id,
      causationid: id,
      data,
    };
    await this.sns.send(
      new PublishCommand({
        TopicArn: topic,
        Message: JSON.stringify(envelope),
        MessageAttributes: { type: { DataType: 'String', StringValue: type }, source: { DataType: 'String', StringValue: source } },
      }),
    );
    return id;
  }

  destroy() {
    this.s3.destroy();
    this.sns.destroy();
  }
}

function topicOf(source: string): string {
  const producer = source.replace(/^anb\./, '');
  return { auth: 'auth-events', 'video-catalog': 'catalog-events', processing: 'processing-events', voting: 'voting-events' }[producer]!;
}

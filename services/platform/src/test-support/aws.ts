import { CreateTopicCommand, SubscribeCommand, type SNSClient } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { createSnsClient, createSqsClient } from '../aws';

/** SNS and SQS clients for a local AWS (moto) at `endpoint`, as the services make them; `destroy` closes both. */
export function localAwsClients(endpoint: string): { sns: SNSClient; sqs: SQSClient; destroy(): void } {
  const settings = { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: endpoint };
  const sns = createSnsClient(settings);
  const sqs = createSqsClient(settings);
  return {
    sns,
    sqs,
    destroy() {
      sns.destroy();
      sqs.destroy();
    },
  };
}

/** A topic fanned out to a queue (raw delivery) with a DLQ, for platform tests. */
export async function topicWithQueue(
  sns: SNSClient,
  sqs: SQSClient,
  name: string,
  options: { maxReceiveCount?: number; visibility?: number } = {},
): Promise<{ topicArn: string; queueUrl: string; dlqUrl: string }> {
  const topicArn = (await sns.send(new CreateTopicCommand({ Name: `${name}-events` }))).TopicArn!;
  const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl!;
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const queueUrl = (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: {
          VisibilityTimeout: String(options.visibility ?? 30),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount ?? 5 }),
        },
      }),
    )
  ).QueueUrl!;
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn, Attributes: { RawMessageDelivery: 'true' } }));
  return { topicArn, queueUrl, dlqUrl };
}

/** Receives (and leaves in flight) every message until `count` arrived or the deadline passes. */
export async function receiveAll(sqs: SQSClient, queueUrl: string, count: number, timeoutMs = 15_000): Promise<Message[]> {
  const messages: Message[] = [];
  const deadline = Date.now() + timeoutMs;
  while (messages.length < count && Date.now() < deadline) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 300, MessageAttributeNames: ['All'] }),
    );
    messages.push(...(out.Messages ?? []));
  }
  return messages;
}

export async function approximateCount(sqs: SQSClient, queueUrl: string): Promise<number> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

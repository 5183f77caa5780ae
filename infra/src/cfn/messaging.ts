import { dlqName, filterPolicy, messagingDefaults, queues, topics, topologyProblems, type QueueSpec, type TopicSpec } from '@anb/contracts';
import { getAtt, ifCondition, noValue, notEmpty, pascal, ref, sub, type CfnResource, type CfnTemplate, type CfnValue } from './template';

/**
 * The messaging stack (SNS topics, SQS queues + DLQs, subscriptions, queue policies, queue alarms),
 * rendered from the topology data in `@anb/contracts` — the same data `infra/src/bootstrap.ts` uses to
 * create it locally, so the two cannot drift. Names: `<Prefix>-<name>`, DLQs `<Prefix>-<queue>-dlq`.
 */

/** Logical ids, shared with the services generator (which builds ARNs/URLs from the same names). */
export const messagingIds = {
  topic: (topic: TopicSpec | string) => `${pascal(typeof topic === 'string' ? topic : topic.name)}Topic`,
  queue: (queue: QueueSpec) => `${pascal(queue.name)}Queue`,
  deadLetterQueue: (queue: QueueSpec) => `${pascal(queue.name)}DeadLetterQueue`,
  queuePolicy: (queue: QueueSpec) => `${pascal(queue.name)}QueuePolicy`,
  subscription: (queue: QueueSpec, topic: string) => `${pascal(queue.name)}QueueFrom${pascal(topic)}Subscription`,
};

/** `${Prefix}-<name>` as a CloudFormation Sub, the deployed name of any topology resource. */
export const prefixed = (name: string) => sub(`\${Prefix}-${name}`);

function alarmActions(): CfnValue {
  return ifCondition('HasAlarmTopic', [ref('AlarmTopicArn')], noValue);
}

function topicResources(topic: TopicSpec): Record<string, CfnResource> {
  return {
    [messagingIds.topic(topic)]: {
      Type: 'AWS::SNS::Topic',
      Properties: {
        TopicName: prefixed(topic.name),
        Tags: [
          { Key: 'anb:producer', Value: topic.producer },
          { Key: 'anb:events', Value: topic.events.join(' ') },
        ],
      },
    },
  };
}

function queueResources(queue: QueueSpec): Record<string, CfnResource> {
  const queueId = messagingIds.queue(queue);
  const dlqId = messagingIds.deadLetterQueue(queue);
  const policyId = messagingIds.queuePolicy(queue);
  const resources: Record<string, CfnResource> = {
    [dlqId]: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        QueueName: prefixed(dlqName(queue)),
        MessageRetentionPeriod: messagingDefaults.dlqRetentionSeconds,
        SqsManagedSseEnabled: true,
        Tags: [{ Key: 'anb:consumer', Value: queue.consumer }],
      },
    },
    [queueId]: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        QueueName: prefixed(queue.name),
        MessageRetentionPeriod: messagingDefaults.queueRetentionSeconds,
        VisibilityTimeout: queue.visibilityTimeoutSeconds,
        ReceiveMessageWaitTimeSeconds: messagingDefaults.receiveWaitTimeSeconds,
        RedrivePolicy: { deadLetterTargetArn: getAtt(dlqId, 'Arn'), maxReceiveCount: messagingDefaults.maxReceiveCount },
        SqsManagedSseEnabled: true,
        Tags: [{ Key: 'anb:consumer', Value: queue.consumer }],
      },
    },
    // the same statement as bootstrap.ts `queuePolicy()`: only the subscribed topics may deliver
    [policyId]: {
      Type: 'AWS::SQS::QueuePolicy',
      Properties: {
        Queues: [ref(queueId)],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'AllowSnsFanOut',
              Effect: 'Allow',
              Principal: { Service: 'sns.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Resource: getAtt(queueId, 'Arn'),
              Condition: { ArnEquals: { 'aws:SourceArn': queue.subscriptions.map((s) => ref(messagingIds.topic(s.topic))) } },
            },
          ],
        },
      },
    },
  };
  for (const subscription of queue.subscriptions) {
    resources[messagingIds.subscription(queue, subscription.topic)] = {
      Type: 'AWS::SNS::Subscription',
      // SNS starts delivering as soon as the subscription exists: the queue must accept it by then
      DependsOn: policyId,
      Properties: {
        TopicArn: ref(messagingIds.topic(subscription.topic)),
        Protocol: 'sqs',
        Endpoint: getAtt(queueId, 'Arn'),
        RawMessageDelivery: messagingDefaults.rawMessageDelivery,
        FilterPolicyScope: 'MessageAttributes',
        FilterPolicy: filterPolicy(subscription),
      },
    };
  }
  resources[`${dlqId}NotEmptyAlarm`] = {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: sub(`\${Prefix}-${dlqName(queue)}-not-empty`),
      AlarmDescription: `Messages ${queue.consumer} could not handle ${messagingDefaults.maxReceiveCount} times are waiting in ${dlqName(queue)}: inspect and redrive them.`,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(dlqId, 'QueueName') }],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: alarmActions(),
      OKActions: alarmActions(),
    },
  };
  resources[`${queueId}OldestMessageAlarm`] = {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: sub(`\${Prefix}-${queue.name}-oldest-message`),
      AlarmDescription: `${queue.consumer} is falling behind: the oldest message in ${queue.name} has waited longer than the threshold.`,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(queueId, 'QueueName') }],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 5,
      Threshold: ref('OldestMessageAgeAlarmSeconds'),
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: alarmActions(),
      OKActions: alarmActions(),
    },
  };
  return resources;
}

export function messagingTemplate(): CfnTemplate {
  const problems = topologyProblems();
  if (problems.length > 0) throw new Error(`the topology data is inconsistent:\n${problems.join('\n')}`);

  const resources: Record<string, CfnResource> = {};
  for (const topic of topics) Object.assign(resources, topicResources(topic));
  for (const queue of queues) Object.assign(resources, queueResources(queue));

  const outputs: Record<string, { Description: string; Value: CfnValue }> = {};
  for (const topic of topics) {
    outputs[`${messagingIds.topic(topic)}Arn`] = { Description: `${topic.name} (published by ${topic.producer})`, Value: ref(messagingIds.topic(topic)) };
  }
  for (const queue of queues) {
    const id = messagingIds.queue(queue);
    const dlq = messagingIds.deadLetterQueue(queue);
    outputs[`${id}Url`] = { Description: `${queue.name} (consumed by ${queue.consumer})`, Value: ref(id) };
    outputs[`${id}Arn`] = { Description: `${queue.name} ARN`, Value: getAtt(id, 'Arn') };
    outputs[`${dlq}Url`] = { Description: `${dlqName(queue)}`, Value: ref(dlq) };
    outputs[`${dlq}Arn`] = { Description: `${dlqName(queue)} ARN`, Value: getAtt(dlq, 'Arn') };
  }

  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description:
      'ANB Rising Stars messaging: one SNS topic per producing service fanned out to one SQS queue (+DLQ) per consuming service, ' +
      'raw delivery with filter policies on the `type` attribute (generated from contracts/src/topology.ts)',
    Parameters: {
      Prefix: {
        Type: 'String',
        Description: 'Environment prefix of every resource name (`<Prefix>-catalog-events`, `<Prefix>-catalog`, …)',
        AllowedPattern: '^[a-z][a-z0-9-]{1,19}$',
        ConstraintDescription: '2-20 lowercase letters, digits or dashes, starting with a letter',
      },
      AlarmTopicArn: { Type: 'String', Default: '', Description: 'SNS topic notified by the queue alarms (empty: alarms without actions)' },
      OldestMessageAgeAlarmSeconds: {
        Type: 'Number',
        Default: 900,
        MinValue: 60,
        Description: 'Alarm when a queue’s oldest message is older than this for 5 minutes (a consumer is stuck or too slow)',
      },
    },
    Conditions: { HasAlarmTopic: notEmpty('AlarmTopicArn') },
    Resources: resources,
    Outputs: outputs,
  };
}

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { dlqName, messagingDefaults, queues, topics, topologyProblems } from '@anb/contracts';
import { generatedTemplates } from './generate';
import { asArray, asRecord, loadTemplate, prefixedName, prop, resourcesOfType, target, type Json } from './inspect';
import { templateFiles, templatePath, type CfnResource, type CfnTemplate } from './template';

const regenerate = 'run  node --import tsx infra/src/cfn/generate.ts  and commit infra/cloudformation/';

describe('generated templates', () => {
  for (const [file, render] of Object.entries(generatedTemplates)) {
    test(`${file} is exactly what the generator prints`, () => {
      const committed = readFileSync(templatePath(file), 'utf8');
      // compared as text, so the message stays short; a diff tool shows the details
      assert.ok(committed === render(), `${file} is stale or was edited by hand: ${regenerate}`);
    });
  }
});

/**
 * The checks below read messaging.yaml as CloudFormation would and compare it with the topology data
 * directly, without going through the generator: a generator bug cannot hide behind its own output.
 */
describe('messaging.yaml equals the topology data', () => {
  const template = loadTemplate('messaging.yaml');
  const resources = template.Resources;
  const queueName = (id: string | undefined) => prefixedName(prop(resources[id ?? ''], 'QueueName'));
  const topicName = (id: string | undefined) => prefixedName(prop(resources[id ?? ''], 'TopicName'));

  test('the topology data is consistent', () => {
    assert.deepEqual(topologyProblems(), []);
  });

  test('one topic per topology topic, named <Prefix>-<name>, and no other', () => {
    const names = resourcesOfType(template, 'AWS::SNS::Topic').map(([id]) => topicName(id));
    assert.deepEqual(names.sort(), topics.map((t) => t.name).sort());
  });

  test('one queue and one DLQ per topology queue, and no other', () => {
    const names = resourcesOfType(template, 'AWS::SQS::Queue').map(([id]) => queueName(id));
    assert.deepEqual(names.sort(), queues.flatMap((q) => [q.name, dlqName(q)]).sort());
  });

  for (const queue of queues) {
    test(`${queue.name}: retention, visibility, long polling, redrive to ${dlqName(queue)} after ${messagingDefaults.maxReceiveCount} receives`, () => {
      const [, resource] = resourcesOfType(template, 'AWS::SQS::Queue').find(([id]) => queueName(id) === queue.name)!;
      const [, dlq] = resourcesOfType(template, 'AWS::SQS::Queue').find(([id]) => queueName(id) === dlqName(queue))!;
      assert.equal(prop(resource, 'MessageRetentionPeriod'), messagingDefaults.queueRetentionSeconds);
      assert.equal(prop(resource, 'MessageRetentionPeriod'), 4 * 24 * 3600);
      assert.equal(prop(resource, 'VisibilityTimeout'), queue.visibilityTimeoutSeconds);
      assert.equal(prop(resource, 'ReceiveMessageWaitTimeSeconds'), messagingDefaults.receiveWaitTimeSeconds);
      const redrive = asRecord(prop(resource, 'RedrivePolicy'));
      assert.equal(queueName(target(redrive.deadLetterTargetArn)), dlqName(queue), 'redrives to its own DLQ');
      assert.deepEqual(asRecord(redrive.deadLetterTargetArn)['Fn::GetAtt'], [target(redrive.deadLetterTargetArn), 'Arn']);
      assert.equal(redrive.maxReceiveCount, messagingDefaults.maxReceiveCount);
      assert.equal(redrive.maxReceiveCount, 5);
      assert.equal(prop(dlq, 'MessageRetentionPeriod'), messagingDefaults.dlqRetentionSeconds);
      assert.equal(prop(dlq, 'MessageRetentionPeriod'), 14 * 24 * 3600);
      assert.equal(prop(dlq, 'RedrivePolicy'), undefined, 'a DLQ is the end of the line');
    });
  }

  test('subscriptions: exactly the topology’s (topic → queue), raw delivery, filter on the type attribute', () => {
    const actual = resourcesOfType(template, 'AWS::SNS::Subscription').map(([id, s]) => {
      assert.equal(prop(s, 'Protocol'), 'sqs', `${id} delivers to SQS`);
      assert.equal(prop(s, 'RawMessageDelivery'), true, `${id} uses raw message delivery`);
      assert.equal(prop(s, 'FilterPolicyScope'), 'MessageAttributes', `${id} filters on message attributes`);
      assert.deepEqual(asRecord(prop(s, 'Endpoint'))['Fn::GetAtt'], [target(prop(s, 'Endpoint')), 'Arn'], `${id} endpoint is a queue ARN`);
      const filter = asRecord(prop(s, 'FilterPolicy'));
      assert.deepEqual(Object.keys(filter), [messagingDefaults.filterAttribute], `${id} filters on "type" only`);
      return {
        topic: topicName(target(prop(s, 'TopicArn'))),
        queue: queueName(target(prop(s, 'Endpoint'))),
        types: [...asArray(filter[messagingDefaults.filterAttribute])].map(String).sort(),
      };
    });
    const expected = queues.flatMap((q) => q.subscriptions.map((s) => ({ topic: s.topic, queue: q.name, types: [...s.types].sort() })));
    const order = (a: { topic?: string; queue?: string }, b: { topic?: string; queue?: string }) =>
      `${a.queue}/${a.topic}`.localeCompare(`${b.queue}/${b.topic}`);
    assert.deepEqual(actual.sort(order), expected.sort(order));
  });

  test('a subscription is created after its queue accepts the topic', () => {
    for (const [id, s] of resourcesOfType(template, 'AWS::SNS::Subscription')) {
      const queue = target(prop(s, 'Endpoint'));
      const policies = resourcesOfType(template, 'AWS::SQS::QueuePolicy').filter(([, p]) => asArray(prop(p, 'Queues')).some((q) => target(q) === queue));
      assert.equal(policies.length, 1, `${id}: one policy for its queue`);
      assert.ok(asArray(s.DependsOn as Json).includes(policies[0]![0]), `${id} depends on ${policies[0]![0]}`);
    }
  });

  test('queue policies: each queue admits sqs:SendMessage from exactly the topics it subscribes to, nothing else', () => {
    const policies = resourcesOfType(template, 'AWS::SQS::QueuePolicy');
    assert.equal(policies.length, queues.length, 'one policy per queue (DLQs receive from SQS itself, no policy)');
    for (const queue of queues) {
      const found = policies.filter(([, p]) => asArray(prop(p, 'Queues')).map((q) => queueName(target(q))).includes(queue.name));
      assert.equal(found.length, 1, `${queue.name} has one policy`);
      const [id, policy] = found[0]!;
      assert.deepEqual(asArray(prop(policy, 'Queues')).map((q) => queueName(target(q))), [queue.name], `${id} applies to ${queue.name} only`);
      const statements = asArray(asRecord(prop(policy, 'PolicyDocument')).Statement).map(asRecord);
      assert.equal(statements.length, 1, `${id}: one statement`);
      const statement = statements[0]!;
      assert.equal(statement.Effect, 'Allow');
      assert.deepEqual(statement.Principal, { Service: 'sns.amazonaws.com' });
      assert.deepEqual(asArray(statement.Action), ['sqs:SendMessage']);
      assert.equal(queueName(target(statement.Resource)), queue.name, `${id}: resource is the queue itself`);
      const sources = asArray(asRecord(asRecord(statement.Condition).ArnEquals)['aws:SourceArn']).map((t) => topicName(target(t)));
      assert.deepEqual(sources.sort(), queue.subscriptions.map((s) => s.topic).sort(), `${id}: only the subscribed topics`);
    }
  });

  test('alarms: every DLQ alarms on a visible message, every queue on the age of its oldest message', () => {
    const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a);
    const watching = (metric: string) =>
      alarms
        .filter((a) => prop(a, 'MetricName') === metric)
        .map((a) => {
          const dimension = asArray(prop(a, 'Dimensions')).map(asRecord).find((d) => d.Name === 'QueueName');
          return queueName(target(dimension?.Value));
        })
        .sort();
    assert.deepEqual(watching('ApproximateNumberOfMessagesVisible'), queues.map((q) => dlqName(q)).sort());
    assert.deepEqual(watching('ApproximateAgeOfOldestMessage'), queues.map((q) => q.name).sort());
    for (const alarm of alarms.filter((a) => prop(a, 'MetricName') === 'ApproximateNumberOfMessagesVisible')) {
      assert.equal(prop(alarm, 'Threshold'), 0);
      assert.equal(prop(alarm, 'ComparisonOperator'), 'GreaterThanThreshold');
    }
  });
});

describe('no template declares messaging resources outside messaging.yaml', () => {
  // the alarm topic (observability.yaml) is the one SNS topic that is not part of the event topology
  const allowed = new Map<string, string[]>([['observability.yaml', ['AlarmTopic', 'AlarmEmailSubscription']]]);
  for (const file of templateFiles.filter((f) => f !== 'messaging.yaml')) {
    test(file, () => {
      const template: CfnTemplate = loadTemplate(file);
      const messaging = Object.entries(template.Resources)
        .filter(([, r]: [string, CfnResource]) => /^AWS::(SNS|SQS)::/.test(r.Type))
        .map(([id]) => id);
      assert.deepEqual(messaging, allowed.get(file) ?? []);
    });
  }
});

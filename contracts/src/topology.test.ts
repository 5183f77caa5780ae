import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventTypes } from './events';
import {
  consumedEvents,
  dlqName,
  filterPolicy,
  messagingDefaults,
  queueOfConsumer,
  queues,
  resourceName,
  sourceOfEvent,
  topicOfEvent,
  topics,
  topologyProblems,
} from './topology';

test('the topology data is consistent', () => {
  assert.deepEqual(topologyProblems(), []);
});

test('every event type is published on exactly one topic', () => {
  for (const type of eventTypes) assert.equal(topics.filter((t) => t.events.includes(type)).length, 1, type);
});

test('the subscriptions are those of EVENTS.md', () => {
  assert.deepEqual(consumedEvents('processing').sort(), ['VideoDeleted', 'VideoUploaded']);
  assert.deepEqual(consumedEvents('video-catalog').sort(), [
    'UserRegistered',
    'VideoProcessed',
    'VideoProcessingFailed',
    'VideoProcessingStarted',
    'VoteCast',
  ]);
  assert.deepEqual(consumedEvents('voting').sort(), ['UserRegistered', 'VideoDeleted', 'VideoPublished']);
  assert.equal(queueOfConsumer('auth'), undefined);
  assert.equal(queueOfConsumer('gateway'), undefined);
});

test('names, sources, DLQ settings and filter policies', () => {
  assert.equal(resourceName('anb-local', 'catalog-events'), 'anb-local-catalog-events');
  assert.equal(dlqName(queues[0]!), 'processing-dlq');
  assert.equal(sourceOfEvent('VoteCast'), 'anb.voting');
  assert.equal(topicOfEvent('VideoUploaded').name, 'catalog-events');
  assert.ok(messagingDefaults.dlqRetentionSeconds > messagingDefaults.queueRetentionSeconds);
  assert.equal(messagingDefaults.maxReceiveCount, 5);
  assert.deepEqual(filterPolicy({ topic: 'catalog-events', types: ['VideoUploaded', 'VideoDeleted'] }), {
    type: ['VideoUploaded', 'VideoDeleted'],
  });
});

import type { EventType } from './events';

/**
 * The messaging and storage topology as data: the single source from which the local bootstrap
 * creates resources, the CloudFormation templates are checked, and the AsyncAPI document is generated.
 * Names are logical; `resourceName(prefix, …)` gives the deployed name (e.g. `anb-local-catalog-events`).
 */
export type ServiceName = 'gateway' | 'auth' | 'video-catalog' | 'processing' | 'voting';
export const serviceNames: readonly ServiceName[] = ['gateway', 'auth', 'video-catalog', 'processing', 'voting'];

export interface TopicSpec {
  /** logical name; deployed as `<prefix>-<name>` */
  readonly name: string;
  readonly producer: ServiceName;
  /** event types published on this topic (the producer's public events) */
  readonly events: readonly EventType[];
}

export interface SubscriptionSpec {
  readonly topic: string;
  /** filter policy on the `type` message attribute */
  readonly types: readonly EventType[];
}

export interface QueueSpec {
  readonly name: string;
  readonly consumer: ServiceName;
  /** how long a received message stays invisible; consumers extend it while a long job runs */
  readonly visibilityTimeoutSeconds: number;
  readonly subscriptions: readonly SubscriptionSpec[];
}

export const messagingDefaults = {
  /** 4 days: the queue keeps unconsumed events through a long outage */
  queueRetentionSeconds: 4 * 24 * 3600,
  /** 14 days: longer than the queue so nothing expires in the DLQ before the source queue would */
  dlqRetentionSeconds: 14 * 24 * 3600,
  maxReceiveCount: 5,
  receiveWaitTimeSeconds: 20,
  rawMessageDelivery: true,
  /** message attribute carrying the event type, used by every filter policy */
  filterAttribute: 'type',
} as const;

export const topics: readonly TopicSpec[] = [
  { name: 'auth-events', producer: 'auth', events: ['UserRegistered'] },
  { name: 'catalog-events', producer: 'video-catalog', events: ['VideoUploaded', 'VideoPublished', 'VideoDeleted'] },
  {
    name: 'processing-events',
    producer: 'processing',
    events: ['VideoProcessingStarted', 'VideoProcessed', 'VideoProcessingFailed'],
  },
  { name: 'voting-events', producer: 'voting', events: ['VoteCast'] },
];

export const queues: readonly QueueSpec[] = [
  {
    name: 'processing',
    consumer: 'processing',
    visibilityTimeoutSeconds: 120,
    subscriptions: [{ topic: 'catalog-events', types: ['VideoUploaded', 'VideoDeleted'] }],
  },
  {
    name: 'catalog',
    consumer: 'video-catalog',
    visibilityTimeoutSeconds: 30,
    subscriptions: [
      { topic: 'processing-events', types: ['VideoProcessingStarted', 'VideoProcessed', 'VideoProcessingFailed'] },
      { topic: 'voting-events', types: ['VoteCast'] },
      { topic: 'auth-events', types: ['UserRegistered'] },
    ],
  },
  {
    name: 'voting',
    consumer: 'voting',
    visibilityTimeoutSeconds: 30,
    subscriptions: [
      { topic: 'catalog-events', types: ['VideoPublished', 'VideoDeleted'] },
      { topic: 'auth-events', types: ['UserRegistered'] },
    ],
  },
];

export const storage = {
  /** private bucket with originals/<video_id>.mp4 and processed/<video_id>.mp4 */
  bucket: { name: 'videos', originalsPrefix: 'originals/', processedPrefix: 'processed/', originalsExpireDays: 90 },
  /** DynamoDB processing job ledger: one item per video */
  jobLedger: { name: 'processing-jobs', partitionKey: 'videoId', ttlAttribute: 'expiresAt' },
} as const;

export function resourceName(prefix: string, name: string): string {
  return `${prefix}-${name}`;
}
export function dlqName(queue: QueueSpec | string): string {
  return `${typeof queue === 'string' ? queue : queue.name}-dlq`;
}

export function topicOfProducer(service: ServiceName): TopicSpec | undefined {
  return topics.find((t) => t.producer === service);
}
export function queueOfConsumer(service: ServiceName): QueueSpec | undefined {
  return queues.find((q) => q.consumer === service);
}
export function topicOfEvent(type: EventType): TopicSpec {
  const topic = topics.find((t) => t.events.includes(type));
  if (!topic) throw new Error(`no topic publishes ${type}`);
  return topic;
}
/** The CloudEvents `source` of an event type: `anb.<producing service>`. */
export function sourceOfEvent(type: EventType): string {
  return `anb.${topicOfEvent(type).producer}`;
}
/** The event types a consuming service receives (union of its subscriptions' filters). */
export function consumedEvents(service: ServiceName): EventType[] {
  return [...new Set(queueOfConsumer(service)?.subscriptions.flatMap((s) => s.types) ?? [])];
}
export function filterPolicy(subscription: SubscriptionSpec): Record<string, string[]> {
  return { [messagingDefaults.filterAttribute]: [...subscription.types] };
}

/** Problems in the topology data itself (empty when consistent); checked by tests and at bootstrap. */
export function topologyProblems(): string[] {
  const problems: string[] = [];
  const topicNames = new Set(topics.map((t) => t.name));
  const seen = new Map<string, string>();
  for (const topic of topics) {
    for (const type of topic.events) {
      if (seen.has(type)) problems.push(`${type} is published on both ${seen.get(type)} and ${topic.name}`);
      seen.set(type, topic.name);
    }
  }
  for (const queue of queues) {
    for (const sub of queue.subscriptions) {
      const topic = topics.find((t) => t.name === sub.topic);
      if (!topicNames.has(sub.topic) || !topic) {
        problems.push(`queue ${queue.name} subscribes to unknown topic ${sub.topic}`);
        continue;
      }
      if (sub.types.length === 0) problems.push(`queue ${queue.name} has an empty filter on ${sub.topic}`);
      for (const type of sub.types) {
        if (!topic.events.includes(type)) problems.push(`queue ${queue.name} filters ${type}, which ${sub.topic} never publishes`);
      }
      if (topic.producer === queue.consumer) problems.push(`queue ${queue.name} consumes its own service's topic ${sub.topic}`);
    }
  }
  return problems;
}

import { createHash } from 'node:crypto';
import { PublishCommand, type MessageAttributeValue, type SNSClient } from '@aws-sdk/client-sns';
import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { validateEvent, type EventData, type EventEnvelope, type RawEnvelope } from '@anb/contracts';

/**
 * Processing's public events, published straight to its SNS topic (there is no Postgres here, so no
 * outbox): the job ledger is the record, and every event can be published again from it. Event ids are
 * derived from (video, type, attempt), so publishing the same fact twice gives the same id and the
 * consumers' inboxes absorb the repeat.
 */

export const processingSource = 'anb.processing';

export type ProcessingEventType = 'VideoProcessingStarted' | 'VideoProcessed' | 'VideoProcessingFailed';

/** Where an event comes from: the VideoUploaded envelope that started the job. */
export interface EventCause {
  correlationId: string;
  causationId: string;
}

export type ProcessingEvent = {
  [T in ProcessingEventType]: { type: T; data: EventData<T>; attempt: number; cause: EventCause };
}[ProcessingEventType];

export function causeOf(envelope: Pick<EventEnvelope, 'id' | 'correlationid'>): EventCause {
  return { correlationId: envelope.correlationid, causationId: envelope.id };
}

/** Fixed namespace of processing's name-based ids (any constant UUID would do; this one must never change). */
const eventIdNamespace = 'b3f1d7a2-5c4e-4f8a-9d16-2e7c0a9b4f35';

/** RFC 4122 name-based UUID, version 5 (SHA-1): the same namespace and name always give the same id. */
export function nameBasedUuid(namespace: string, name: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50; // version 5
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function processingEventId(videoId: string, type: ProcessingEventType, attempt: number): string {
  return nameBasedUuid(eventIdNamespace, `${videoId}/${type}/${attempt}`);
}

/**
 * Position of the event in the video's job history: attempt n starts at 2n−1 and ends (processed or
 * failed) at 2n. Deterministic like the id, and growing, so a reader can tell a later attempt apart.
 */
export function jobStreamVersion(type: ProcessingEventType, attempt: number): number {
  return type === 'VideoProcessingStarted' ? 2 * attempt - 1 : 2 * attempt;
}

function timeOf(event: ProcessingEvent): string {
  switch (event.type) {
    case 'VideoProcessingStarted':
      return event.data.startedAt;
    case 'VideoProcessed':
      return event.data.processedAt;
    case 'VideoProcessingFailed':
      return event.data.failedAt;
    default: {
      const never: never = event;
      throw new Error(`not a processing event: ${(never as { type: string }).type}`);
    }
  }
}

/** The CloudEvents envelope of a processing event; the data is validated against the contract first. */
export function processingEnvelope(event: ProcessingEvent, traceContext: { traceparent?: string; tracestate?: string } = {}): RawEnvelope {
  const { data } = validateEvent(event.type, event.data);
  return {
    specversion: '1.0',
    id: processingEventId(event.data.videoId, event.type, event.attempt),
    source: processingSource,
    type: event.type,
    time: timeOf(event),
    subject: event.data.videoId,
    datacontenttype: 'application/json',
    streamversion: jobStreamVersion(event.type, event.attempt),
    correlationid: event.cause.correlationId,
    causationid: event.cause.causationId,
    ...(traceContext.traceparent ? { traceparent: traceContext.traceparent } : {}),
    ...(traceContext.tracestate ? { tracestate: traceContext.tracestate } : {}),
    data,
  };
}

const tracer = trace.getTracer('@anb/processing/events');

export class ProcessingEventPublisher {
  private readonly topicName: string;

  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
  ) {
    this.topicName = topicArn.split(':').at(-1) ?? 'processing-events';
  }

  /** Publishes one event (at least once: a caller that retries publishes the same id again). */
  async publish(event: ProcessingEvent): Promise<RawEnvelope> {
    // the publish span is a child of the job's span, so the trace runs on to the consumers
    const span = tracer.startSpan(
      `${this.topicName} publish ${event.type}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'aws_sns',
          'messaging.operation.type': 'publish',
          'messaging.destination.name': this.topicName,
          'anb.event.type': event.type,
          'anb.video_id': event.data.videoId,
          'anb.processing.attempt': event.attempt,
        },
      },
      context.active(),
    );
    try {
      const carrier: Record<string, string> = {};
      propagation.inject(trace.setSpan(context.active(), span), carrier);
      const envelope = processingEnvelope(event, {
        ...(carrier.traceparent ? { traceparent: carrier.traceparent } : {}),
        ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}),
      });
      span.setAttribute('messaging.message.id', envelope.id);
      const attributes: Record<string, MessageAttributeValue> = {
        type: { DataType: 'String', StringValue: envelope.type },
        source: { DataType: 'String', StringValue: processingSource },
      };
      if (envelope.traceparent) attributes.traceparent = { DataType: 'String', StringValue: envelope.traceparent };
      if (envelope.tracestate) attributes.tracestate = { DataType: 'String', StringValue: envelope.tracestate };
      await this.sns.send(new PublishCommand({ TopicArn: this.topicArn, Message: JSON.stringify(envelope), MessageAttributes: attributes }));
      span.setStatus({ code: SpanStatusCode.OK });
      return envelope;
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  }
}

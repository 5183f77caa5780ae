import { subjectOf, type DomainEvent, type RawEnvelope } from '@anb/contracts';
import type { RecordedEvent } from '../eventstore/types';

/** The CloudEvents envelope of a recorded public event, as published on SNS. */
export function toEnvelope(event: RecordedEvent, source: string, trace: { traceparent?: string; tracestate?: string }): RawEnvelope {
  return {
    specversion: '1.0',
    id: event.eventId,
    source,
    type: event.type,
    time: event.recordedAt.toISOString(),
    subject: subjectOf({ type: event.type, data: event.data } as DomainEvent),
    datacontenttype: 'application/json',
    streamversion: event.streamVersion,
    correlationid: event.metadata.correlationId ?? event.eventId,
    causationid: event.metadata.causationId ?? event.eventId,
    ...(trace.traceparent ? { traceparent: trace.traceparent } : {}),
    ...(trace.tracestate ? { tracestate: trace.tracestate } : {}),
    data: event.data,
  };
}

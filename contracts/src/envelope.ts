import { z } from 'zod';
import { eventDataSchemas, isEventType, type DomainEvent, type EventType } from './events';

/**
 * The SNS/SQS message body: a CloudEvents 1.0 structured-mode JSON document with the
 * project's extensions (streamversion, correlationid, causationid, traceparent).
 */
export const envelopeSchema = z
  .object({
    specversion: z.literal('1.0'),
    id: z.uuid(),
    source: z.string().regex(/^anb\.[a-z-]+$/),
    type: z.string().min(1),
    time: z.iso.datetime({ offset: true }),
    subject: z.string().min(1),
    datacontenttype: z.literal('application/json'),
    streamversion: z.number().int().positive(),
    correlationid: z.string().min(1),
    causationid: z.string().min(1),
    traceparent: z.string().regex(/^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/).optional(),
    tracestate: z.string().optional(),
    data: z.unknown(),
  })
  .meta({ id: 'EventEnvelope', description: 'CloudEvents 1.0 structured JSON envelope of every domain event.' });

export type RawEnvelope = z.infer<typeof envelopeSchema>;
export type EventEnvelope<T extends EventType = EventType> = Omit<RawEnvelope, 'type' | 'data'> & DomainEvent<T>;

export class InvalidEnvelopeError extends Error {
  constructor(message: string, readonly issues: unknown = undefined) {
    super(message);
    this.name = 'InvalidEnvelopeError';
  }
}

/** Parses a message body into a typed envelope, validating the data against the event's schema. */
export function parseEnvelope(body: string | unknown): EventEnvelope {
  let json: unknown = body;
  if (typeof body === 'string') {
    try {
      json = JSON.parse(body);
    } catch {
      throw new InvalidEnvelopeError('message body is not JSON');
    }
  }
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success) throw new InvalidEnvelopeError('not an event envelope', envelope.error.issues);
  const { type } = envelope.data;
  if (!isEventType(type)) throw new InvalidEnvelopeError(`unknown event type ${type}`);
  const data = eventDataSchemas[type].safeParse(envelope.data.data);
  if (!data.success) throw new InvalidEnvelopeError(`invalid ${type} data`, data.error.issues);
  return { ...envelope.data, type, data: data.data } as EventEnvelope;
}

/** Validates an event's data before it is recorded (producers never record an invalid public event). */
export function validateEvent<T extends EventType>(type: T, data: unknown): DomainEvent<T> {
  const parsed = eventDataSchemas[type].parse(data);
  return { type, data: parsed } as unknown as DomainEvent<T>;
}

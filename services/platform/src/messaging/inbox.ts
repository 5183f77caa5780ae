import { InvalidEnvelopeError, parseEnvelope, type EventEnvelope, type EventType } from '@anb/contracts';
import type { Logger } from '@anb/observability';
import { trace } from '@opentelemetry/api';
import type { Knex } from 'knex';
import { applyLive, fromEnvelope, type ProjectionDefinition } from '../projections/projection';
import { PermanentFailure, type MessageHandler } from './consumer';

export type InboxHandlers = {
  [T in EventType]?: (event: EventEnvelope<T>, trx: Knex.Transaction) => Promise<void>;
};

export interface InboxOptions {
  db: Knex;
  schema: string;
  /** read models fed by consumed events (rebuildable by replay) */
  projections?: readonly ProjectionDefinition[];
  /** other effects of a consumed event (recording an event of our own, say), in the same transaction */
  handlers?: InboxHandlers;
  logger: Logger;
}

/**
 * Turns a service's projections and event handlers into an SQS message handler with exactly-once
 * effects: the inbox row (keyed by event id), the projections' and the handler's writes commit in one transaction, so a duplicate delivery
 * finds the row and changes nothing. The inbox keeps the whole envelope: with the service's own
 * events it is the complete local log that replays rebuild projections from.
 */
export function inboxHandler(options: InboxOptions): MessageHandler {
  const table = `${options.schema}.inbox`;
  return async (message) => {
    let event: EventEnvelope;
    try {
      event = parseEnvelope(message.Body ?? '');
    } catch (error) {
      if (error instanceof InvalidEnvelopeError) {
        throw new PermanentFailure(`invalid event envelope: ${error.message}`, { cause: error });
      }
      throw error;
    }
    trace.getActiveSpan()?.setAttributes({
      'anb.event.id': event.id,
      'anb.event.type': event.type,
      'anb.event.source': event.source,
      'anb.event.subject': event.subject,
    });
    const handler = options.handlers?.[event.type] as ((e: EventEnvelope, trx: Knex.Transaction) => Promise<void>) | undefined;
    const projections = (options.projections ?? []).filter((p) => p.inboxEvents.includes(event.type));
    await options.db.transaction(async (trx) => {
      const { data, ...envelope } = event;
      const inserted = await trx(table)
        .insert({
          event_id: event.id,
          source: event.source,
          type: event.type,
          subject: event.subject,
          stream_version: event.streamversion,
          time: event.time,
          data: JSON.stringify(data),
          envelope: JSON.stringify(envelope),
        })
        .onConflict('event_id')
        .ignore()
        .returning('event_id');
      if (inserted.length === 0) {
        options.logger.debug({ eventId: event.id, type: event.type }, 'inbox: duplicate delivery absorbed');
        return;
      }
      if (!handler && projections.length === 0) {
        options.logger.warn({ eventId: event.id, type: event.type }, 'inbox: nothing handles this event type; kept in the inbox only');
        return;
      }
      const logEvent = fromEnvelope(event);
      for (const projection of projections) await applyLive(trx, projection, [logEvent]);
      if (handler) await handler(event, trx);
    });
  };
}

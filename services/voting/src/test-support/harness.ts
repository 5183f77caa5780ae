import { randomUUID } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { sourceOfEvent, subjectOf, type DomainEvent, type EventData, type EventType, type RawEnvelope } from '@anb/contracts';
import { createLogger } from '@anb/observability';
import {
  EventStore,
  ProjectionSubscriber,
  createDatabase,
  createHttpApp,
  inboxHandler,
  migrate,
  startHttpServer,
  type Knex,
  type MessageHandler,
  type RunningServer,
} from '@anb/platform';
import { startTestDatabase, type LocalPostgres } from '@anb/platform/local';
import { votingRoutes } from '../api';
import { votingMigrations, votingSchema } from '../migrations';
import { projections } from '../projections';
import { SignedUrls } from '../showcase/signedUrls';

/** A CloudEvents envelope as the producing service would publish it. */
export function envelopeOf<T extends EventType>(type: T, data: EventData<T>, options: { id?: string; time?: string } = {}): RawEnvelope {
  const id = options.id ?? randomUUID();
  return {
    specversion: '1.0',
    id,
    source: sourceOfEvent(type),
    type,
    time: options.time ?? new Date().toISOString(),
    subject: subjectOf({ type, data } as DomainEvent),
    datacontenttype: 'application/json',
    streamversion: 1,
    correlationid: id,
    causationid: id,
    data,
  };
}

export const userRegistered = (over: Partial<EventData<'UserRegistered'>> = {}): EventData<'UserRegistered'> => ({
  userId: randomUUID(),
  firstName: 'Ana',
  lastName: 'Pérez',
  city: 'Bogotá',
  country: 'Colombia',
  registeredAt: new Date().toISOString(),
  ...over,
});

export const videoPublished = (ownerId: string, over: Partial<EventData<'VideoPublished'>> = {}): EventData<'VideoPublished'> => {
  const videoId = over.videoId ?? randomUUID();
  return { videoId, ownerId, title: 'Triple desde la esquina', processedKey: `processed/${videoId}.mp4`, publishedAt: new Date().toISOString(), ...over };
};

/**
 * voting against a real PostgreSQL, in process: the migrated schema, the event store, the inbox
 * handler (fed envelopes directly, as the SQS consumer would), the VoteCast subscriber (drained on
 * demand, or running) and the HTTP app on a free port (the user id passed as the gateway would).
 */
export interface VotingHarness {
  db: Knex;
  pg: LocalPostgres;
  store: EventStore;
  subscriber: ProjectionSubscriber;
  server: RunningServer;
  deliver(envelope: RawEnvelope): Promise<void>;
  request(method: string, path: string, options?: { userId?: string; headers?: Record<string, string> }): Promise<{ status: number; headers: Headers; body: any }>;
  stop(): Promise<void>;
}

export async function startVotingHarness(options: { publicCacheMs?: number } = {}): Promise<VotingHarness> {
  const pg = await startTestDatabase();
  const db = createDatabase({ url: pg.url, poolMax: 20 });
  const logger = createLogger({ service: 'voting-test', level: process.env.LOG_LEVEL ?? 'silent' });
  await migrate(db, votingSchema, votingMigrations);
  const store = new EventStore(db, votingSchema);
  const subscriber = new ProjectionSubscriber({ db, databaseUrl: pg.url, schema: votingSchema, projections, logger, pollIntervalMs: 50 });
  const handler: MessageHandler = inboxHandler({ db, schema: votingSchema, projections, logger });
  const s3 = new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const app = createHttpApp({
    service: 'voting',
    version: 'test',
    logger,
    router: votingRoutes({ db, store, signedUrls: new SignedUrls(s3, 'videos-test', 3600), publicCacheMs: options.publicCacheMs ?? 0, logger }),
  });
  const server = await startHttpServer(app, { port: 0, host: '127.0.0.1' });
  return {
    db,
    pg,
    store,
    subscriber,
    server,
    async deliver(envelope) {
      await handler({ Body: JSON.stringify(envelope), MessageId: randomUUID() }, { signal: new AbortController().signal, receiveCount: 1, messageId: 'm' });
    },
    async request(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.userId) headers['x-anb-user-id'] = opts.userId;
      const res = await fetch(`${server.url}${path}`, { method, headers });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON
      }
      return { status: res.status, headers: res.headers, body };
    },
    async stop() {
      await server.close();
      await subscriber.stop();
      s3.destroy();
      await db.destroy();
      await pg.stop();
    },
  };
}

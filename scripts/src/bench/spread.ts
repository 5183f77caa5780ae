/**
 * `npm run bench:spread` — why the hot paths build objects key by key or with Object.assign instead of
 * `{ ...object, key }`: on this Node (20, V8 11.3) adding a key to an object made by a spread takes
 * about a microsecond per key, against tens of nanoseconds for a literal, while a spread that only
 * overrides keys the copy already has stays fast. And, run through tsx as the services are, each named
 * closure made per call costs its naming (esbuild's keepNames). Each line times one shape the code
 * used, as it was and as it is now, on the same data. Prints ns per object; nothing is asserted.
 *
 *   npm run bench:spread
 */
import { randomUUID } from 'node:crypto';

const rounds = Number(process.env.BENCH_ROUNDS ?? 200_000);
let sink: unknown;

function time(run: (i: number) => unknown): number {
  let best = Infinity;
  for (let attempt = 0; attempt < 5; attempt++) {
    const started = performance.now();
    for (let i = 0; i < rounds; i++) sink = run(i);
    best = Math.min(best, ((performance.now() - started) * 1e6) / rounds);
  }
  return best;
}

// an appended event as the store sends it, and what PostgreSQL gives back for it
const sent = {
  event_id: randomUUID(),
  stream_id: `vote:${randomUUID()}:${randomUUID()}`,
  stream_version: 1,
  type: 'VoteCast',
  schema_version: 1,
  data: { voteId: randomUUID(), videoId: randomUUID(), voterId: randomUUID(), ownerId: randomUUID(), castAt: new Date().toISOString() },
  metadata: { correlationId: randomUUID(), causationId: randomUUID(), actor: `user:${randomUUID()}` },
};
const back = { position: 1234, transaction_id: '5678', event_id: sent.event_id, recorded_at: new Date() };
// a recorded event as a projection reads it
const recorded = { eventId: sent.event_id, type: 'VoteCast', data: sent.data, streamId: sent.stream_id, streamVersion: 1, recordedAt: back.recorded_at };
const fromRecorded = (e: typeof recorded) => ({ origin: 'store' as const, eventId: e.eventId, type: e.type, data: e.data, streamId: e.streamId, streamVersion: e.streamVersion, time: e.recordedAt });
const base = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'voting', traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` };
const given = { correlationId: randomUUID(), causationId: randomUUID(), requestId: randomUUID(), actor: `user:${randomUUID()}` };
const requestHeaders = { 'x-request-id': randomUUID(), traceparent: base.traceparent };
// metadata an event does not carry, extra headers an answer does not have (undefined, as usually)
const absent: Record<string, string> | undefined = process.env.BENCH_NEVER_SET ? {} : undefined;

const cases: { name: string; before: (i: number) => unknown; now: (i: number) => unknown }[] = [
  {
    name: "the store's appended row completed with what PostgreSQL added",
    before: () => ({ ...sent, position: back.position, transaction_id: back.transaction_id, event_id: back.event_id, recorded_at: back.recorded_at }),
    now: () => ({
      position: back.position,
      transaction_id: back.transaction_id,
      event_id: back.event_id,
      stream_id: sent.stream_id,
      stream_version: sent.stream_version,
      type: sent.type,
      schema_version: sent.schema_version,
      data: sent.data,
      metadata: sent.metadata,
      recorded_at: back.recorded_at,
    }),
  },
  {
    name: 'an event of the local log with its place (projections, replay)',
    before: () => ({ ...fromRecorded(recorded), transactionId: '5678', position: 1234, ...(base.traceparent ? { traceparent: base.traceparent } : {}) }),
    now: () => {
      const e: Record<string, unknown> = fromRecorded(recorded);
      e.transactionId = '5678';
      e.position = 1234;
      if (base.traceparent) e.traceparent = base.traceparent;
      return e;
    },
  },
  {
    name: "an event's metadata: defaults, the append's, the event's",
    before: () => ({ ...base, ...given, ...absent }),
    now: () => Object.assign({}, base, given, absent),
  },
  {
    name: "a direct answer's headers (gateway)",
    before: () => ({ ...requestHeaders, ...absent, 'content-type': 'application/json; charset=utf-8', 'content-length': 62 }),
    now: () => {
      const headers: Record<string, string | number> = Object.assign({}, requestHeaders, absent);
      headers['content-type'] = 'application/json; charset=utf-8';
      headers['content-length'] = 62;
      return headers;
    },
  },
  {
    // tsx (how the services run, in production too) compiles with esbuild's keepNames: each named
    // function made at run time is given its name with Object.defineProperty
    name: "three named closures per call, as the gateway's direct votes had",
    before: (i) => {
      const call = (userId: string) => ({ userId, i });
      const answer = (status: number) => status + i;
      const fail = (error: unknown) => [error, i];
      return [call, answer, fail];
    },
    now: (i) => [(userId: string) => ({ userId, i }), (status: number) => status + i, (error: unknown) => [error, i]],
  },
  {
    name: 'for contrast: a spread that only overrides keys',
    before: () => ({ ...sent, type: 'VoteCast', data: sent.data }),
    now: () => Object.assign({}, sent, { type: 'VoteCast', data: sent.data }),
  },
];

console.log(`bench:spread — Node ${process.versions.node} (V8 ${process.versions.v8}), best of 5 × ${rounds.toLocaleString('en-US')} objects each, ns per object`);
for (const c of cases) {
  const before = time(c.before);
  const now = time(c.now);
  console.log(`  ${c.name.padEnd(66)} before ${before.toFixed(0).padStart(6)}   now ${now.toFixed(0).padStart(6)}`);
}
if (sink === undefined) console.log('');

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { InvalidEnvelopeError, parseEnvelope, validateEvent } from './envelope';
import { subjectOf } from './events';

const videoId = randomUUID();
const envelope = {
  specversion: '1.0',
  id: randomUUID(),
  source: 'anb.video-catalog',
  type: 'VideoUploaded',
  time: '2026-01-01T10:00:00.000Z',
  subject: videoId,
  datacontenttype: 'application/json',
  streamversion: 1,
  correlationid: randomUUID(),
  causationid: randomUUID(),
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  data: {
    videoId,
    ownerId: randomUUID(),
    title: 'Triple',
    originalKey: `originals/${videoId}.mp4`,
    sizeBytes: 1000,
    durationSeconds: 22.5,
    width: 1920,
    height: 1080,
    uploadedAt: '2026-01-01T10:00:00Z',
  },
};

test('a valid envelope parses with typed data', () => {
  const parsed = parseEnvelope(JSON.stringify(envelope));
  assert.equal(parsed.type, 'VideoUploaded');
  if (parsed.type === 'VideoUploaded') assert.equal(parsed.data.width, 1920);
  assert.equal(subjectOf(parsed), videoId);
});

test('bad envelopes are typed errors', () => {
  assert.throws(() => parseEnvelope('not json'), InvalidEnvelopeError);
  assert.throws(() => parseEnvelope({ ...envelope, specversion: '0.3' }), InvalidEnvelopeError);
  assert.throws(() => parseEnvelope({ ...envelope, type: 'Unknown' }), /unknown event type/);
  assert.throws(() => parseEnvelope({ ...envelope, data: { ...envelope.data, width: -1 } }), /invalid VideoUploaded data/);
  assert.throws(() => parseEnvelope({ ...envelope, traceparent: 'nope' }), InvalidEnvelopeError);
});

test('validateEvent refuses data that does not fit the schema', () => {
  assert.throws(() => validateEvent('VoteCast', { voteId: 'x' }));
  const ok = validateEvent('VideoDeleted', { videoId, ownerId: videoId, deletedAt: '2026-01-01T10:00:00Z' });
  assert.equal(ok.type, 'VideoDeleted');
});

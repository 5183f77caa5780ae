import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseEnvelope } from '@anb/contracts';
import { causeOf, jobStreamVersion, nameBasedUuid, processingEnvelope, processingEventId, type ProcessingEvent } from './events';

const videoId = '0f8fad5b-d9cb-469f-a165-70867728950e';
const cause = { correlationId: 'c0ffee00-0000-4000-8000-000000000001', causationId: 'c0ffee00-0000-4000-8000-000000000002' };

describe('event ids', () => {
  test('name-based UUID v5 matches the RFC 4122 reference (DNS namespace, "python.org")', () => {
    // the value every v5 implementation gives (e.g. Python's uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org'))
    assert.equal(nameBasedUuid('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org'), '886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });
  test('the same (video, type, attempt) always gives the same id; anything else a different one', () => {
    const id = processingEventId(videoId, 'VideoProcessed', 1);
    assert.equal(processingEventId(videoId, 'VideoProcessed', 1), id);
    assert.match(id, /^[\da-f]{8}-[\da-f]{4}-5[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/);
    const others = [
      processingEventId(videoId, 'VideoProcessed', 2),
      processingEventId(videoId, 'VideoProcessingStarted', 1),
      processingEventId(videoId, 'VideoProcessingFailed', 1),
      processingEventId('1f8fad5b-d9cb-469f-a165-70867728950e', 'VideoProcessed', 1),
    ];
    assert.equal(new Set([id, ...others]).size, 5);
  });
  test('stream versions: attempt n starts at 2n−1 and ends at 2n', () => {
    assert.deepEqual(
      [jobStreamVersion('VideoProcessingStarted', 1), jobStreamVersion('VideoProcessed', 1), jobStreamVersion('VideoProcessingStarted', 2), jobStreamVersion('VideoProcessingFailed', 2)],
      [1, 2, 3, 4],
    );
  });
});

describe('processingEnvelope', () => {
  const processed: ProcessingEvent = {
    type: 'VideoProcessed',
    attempt: 2,
    cause,
    data: {
      videoId,
      processedKey: `processed/${videoId}.mp4`,
      durationSeconds: 26.033,
      width: 1280,
      height: 720,
      sizeBytes: 1234,
      processingMs: 4567,
      processedAt: '2026-01-01T10:00:05.000Z',
    },
  };

  test('is a CloudEvents envelope the contracts accept, with the cause and the trace context', () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const envelope = processingEnvelope(processed, { traceparent });
    assert.deepEqual(envelope, {
      specversion: '1.0',
      id: processingEventId(videoId, 'VideoProcessed', 2),
      source: 'anb.processing',
      type: 'VideoProcessed',
      time: '2026-01-01T10:00:05.000Z',
      subject: videoId,
      datacontenttype: 'application/json',
      streamversion: 4,
      correlationid: cause.correlationId,
      causationid: cause.causationId,
      traceparent,
      data: processed.data,
    });
    assert.equal(parseEnvelope(JSON.stringify(envelope)).type, 'VideoProcessed');
  });
  test('a re-announcement is byte-for-byte the same event (no trace context outside a span)', () => {
    assert.equal(JSON.stringify(processingEnvelope(processed)), JSON.stringify(processingEnvelope(structuredClone(processed))));
  });
  test('data that breaks the contract is never published', () => {
    const broken = { ...processed, data: { ...processed.data, width: 0 } } as ProcessingEvent;
    assert.throws(() => processingEnvelope(broken), /too_small|>0|greater/i);
  });
  test('cause: causation is the consumed event, correlation carries on', () => {
    assert.deepEqual(causeOf({ id: 'e1', correlationid: 'corr' }), { correlationId: 'corr', causationId: 'e1' });
  });
});

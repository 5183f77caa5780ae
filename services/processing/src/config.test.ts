import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { ConfigError } from '@anb/platform';
import { defaultConcurrency, encodeThreads, loadProcessingConfig } from './config';
import { workerSettings } from './worker';

const required = {
  EVENTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:anb-local-processing-events',
  EVENTS_QUEUE_URL: 'http://127.0.0.1:4566/123456789012/anb-local-processing',
  VIDEOS_BUCKET: 'anb-local-videos',
  JOBS_TABLE: 'anb-local-processing-jobs',
};

test('defaults: health on 8084, one job per two vCPUs, veryfast/23/auto threads, 3 attempts, 30 s lease and visibility', () => {
  const config = loadProcessingConfig(required);
  assert.equal(config.PORT, 8084);
  assert.equal(config.PROCESSING_CONCURRENCY, Math.max(1, Math.floor(availableParallelism() / 2)));
  assert.deepEqual(
    [config.FFMPEG_PRESET, config.FFMPEG_CRF, config.FFMPEG_THREADS, config.JOB_TIMEOUT_SECONDS, config.MAX_ATTEMPTS, config.LEASE_SECONDS, config.VISIBILITY_SECONDS],
    ['veryfast', 23, 0, 300, 3, 30, 30],
  );
  const settings = workerSettings(config);
  const threads = config.PROCESSING_CONCURRENCY > 1 ? Math.floor(availableParallelism() / config.PROCESSING_CONCURRENCY) : 0;
  assert.deepEqual(settings.encode, { preset: 'veryfast', crf: 23, threads, fps: 30, width: 1280, height: 720, maxSeconds: 30, bumperSeconds: 2.5 });
  assert.equal(settings.leaseMs, 30_000);
});

test('a bad or missing variable is named', () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadProcessingConfig(env);
      return [];
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems.map((p) => p.variable).sort();
    }
  };
  assert.deepEqual(problems({}), ['EVENTS_QUEUE_URL', 'EVENTS_TOPIC_ARN', 'JOBS_TABLE', 'VIDEOS_BUCKET']);
  assert.deepEqual(problems({ ...required, FFMPEG_PRESET: 'turbo', FFMPEG_CRF: '52' }), ['FFMPEG_CRF', 'FFMPEG_PRESET']);
  // more attempts than deliveries before the DLQ would let a message die without a VideoProcessingFailed
  assert.deepEqual(problems({ ...required, MAX_ATTEMPTS: '6' }), ['MAX_ATTEMPTS']);
});

test('encode threads: as configured, or the vCPUs shared among concurrent jobs', () => {
  assert.equal(encodeThreads({ FFMPEG_THREADS: 3, PROCESSING_CONCURRENCY: 4 }, 8), 3);
  assert.equal(encodeThreads({ FFMPEG_THREADS: 0, PROCESSING_CONCURRENCY: 1 }, 8), 0);
  assert.equal(encodeThreads({ FFMPEG_THREADS: 0, PROCESSING_CONCURRENCY: 4 }, 8), 2);
  assert.equal(encodeThreads({ FFMPEG_THREADS: 0, PROCESSING_CONCURRENCY: 4 }, 2), 1);
  assert.equal(defaultConcurrency(2), 1);
  assert.equal(defaultConcurrency(8), 4);
  assert.equal(defaultConcurrency(1), 1);
});

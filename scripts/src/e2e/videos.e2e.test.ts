import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@anb/platform/local';
import { repoRoot } from '../stack/stack';
import { StackAws } from './aws';
import { streamingMultipart, testClip, uploadForm } from './media';
import { startTestStack, type TestStack } from './support';

/**
 * The player's library through the gateway: uploads (accepted and every kind of rejected), list,
 * detail, delete, ownership. Processing is played by the test (it publishes what processing would),
 * so these checks do not wait on ffmpeg; the full pipeline has its own file.
 */
let stack: TestStack;
let aws: StackAws;
let clip1080: string;

before(async () => {
  [stack, clip1080] = await Promise.all([
    startTestStack({ services: ['auth', 'video-catalog', 'gateway'] }),
    testClip({ width: 1920, height: 1080, seconds: 21 }),
  ]);
  aws = new StackAws(stack);
});
after(async () => {
  aws?.destroy();
  await stack?.stop();
});

async function upload(token: string, file: string | undefined, fields: Record<string, string> = { title: 'Mi mejor jugada' }, headers: Record<string, string> = {}) {
  return stack.api.request('POST', '/api/videos/upload', { token, body: await uploadForm(file, fields), headers });
}

describe('upload', () => {
  test('a valid clip is stored, recorded and listed as uploaded', async () => {
    const player = await stack.api.newPlayer();
    const res = await upload(player.token, clip1080);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.message, 'Video subido correctamente. Procesamiento en curso.');
    assert.match(res.body.video_id, /^[\da-f-]{36}$/);
    assert.equal(typeof res.body.task_id, 'string');
    assert.deepEqual(await aws.keys(`originals/${res.body.video_id}`), [`originals/${res.body.video_id}.mp4`]);

    const list = await stack.api.get('/api/videos', player.token);
    assert.equal(list.status, 200);
    assert.equal(list.body.length, 1);
    assert.equal(list.body[0].video_id, res.body.video_id);
    assert.equal(list.body[0].status, 'uploaded');
    assert.equal(list.body[0].processed_url, undefined);

    const detail = await stack.api.get(`/api/videos/${res.body.video_id}`, player.token);
    assert.equal(detail.status, 200);
    assert.equal(detail.body.processed_url, null);
    assert.equal(detail.body.votes, 0);
    const original = await fetch(detail.body.original_url);
    assert.equal(original.status, 200);
    assert.equal(Number(original.headers.get('content-length')), (await import('node:fs')).statSync(clip1080).size);
    await original.body?.cancel();
  });

  test('the alias field `file` is accepted', async () => {
    const player = await stack.api.newPlayer();
    const form = await uploadForm(clip1080, { title: 'Alias' }, 'file');
    const res = await stack.api.request('POST', '/api/videos/upload', { token: player.token, body: form });
    assert.equal(res.status, 201, res.text);
  });

  test('an Idempotency-Key retry returns the first answer and creates nothing new', async () => {
    const player = await stack.api.newPlayer();
    const key = `retry-${randomUUID()}`;
    const first = await upload(player.token, clip1080, { title: 'Una vez' }, { 'idempotency-key': key });
    const second = await upload(player.token, clip1080, { title: 'Una vez' }, { 'idempotency-key': key });
    assert.equal(first.status, 201);
    assert.equal(second.status, 201);
    assert.deepEqual(second.body, first.body);
    assert.equal((await stack.api.get('/api/videos', player.token)).body.length, 1);
  });

  test('without a token → 401, nothing stored', async () => {
    const before = (await aws.keys('originals/')).length;
    const res = await stack.api.request('POST', '/api/videos/upload', { body: await uploadForm(clip1080, { title: 'x' }) });
    assert.equal(res.status, 401);
    assert.equal((await aws.keys('originals/')).length, before);
  });

  describe('rejections leave nothing behind', () => {
    const rejected = async (token: string, res: { status: number; body: any }, status: number, code: string, message?: RegExp) => {
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(res.body.code, code);
      if (message) assert.match(res.body.message, message);
      assert.deepEqual((await stack.api.get('/api/videos', token)).body, []);
    };
    let before: number;
    let token: string;
    test('setup', async () => {
      token = (await stack.api.newPlayer()).token;
      before = (await aws.keys('originals/')).length;
    });

    test('random bytes named .mp4 → 400 INVALID_VIDEO', async () => {
      const path = join(repoRoot, '.tmp', `random-${randomUUID()}.mp4`);
      writeFileSync(path, randomBytes(200_000));
      await rejected(token, await upload(token, path), 400, 'INVALID_VIDEO', /MP4/);
    });

    test('a WebM → 400 INVALID_VIDEO', async () => {
      const webm = await testClip({ width: 1920, height: 1080, seconds: 21, container: 'webm' });
      await rejected(token, await upload(token, webm), 400, 'INVALID_VIDEO', /MP4/);
    });

    test('a 15 s clip → 400 naming the duration rule', async () => {
      const short = await testClip({ width: 1920, height: 1080, seconds: 15 });
      await rejected(token, await upload(token, short), 400, 'INVALID_VIDEO', /duración.*20 y 60/);
    });

    test('a 720p clip → 400 naming the resolution rule', async () => {
      const small = await testClip({ width: 1280, height: 720, seconds: 21 });
      await rejected(token, await upload(token, small), 400, 'INVALID_VIDEO', /1080p/);
    });

    test('a missing title → 400 VALIDATION_ERROR on title', async () => {
      const res = await upload(token, clip1080, {});
      await rejected(token, res, 400, 'VALIDATION_ERROR');
      assert.deepEqual(res.body.errors.map((e: { field: string }) => e.field), ['title']);
    });

    test('a missing file → 400 VALIDATION_ERROR on video_file', async () => {
      const res = await upload(token, undefined, { title: 'Sin archivo' });
      await rejected(token, res, 400, 'VALIDATION_ERROR');
      assert.equal(res.body.errors[0].field, 'video_file');
    });

    test('over 100 MB → 413 FILE_TOO_LARGE, cut off at the limit', async () => {
      const { body, contentType } = streamingMultipart(100 * 1024 * 1024 + 5 * 1024 * 1024);
      const res = await stack.api.request('POST', '/api/videos/upload', { token, body, headers: { 'content-type': contentType } });
      await rejected(token, res, 413, 'FILE_TOO_LARGE');
    });

    test('S3 holds nothing from any of them', async () => {
      await waitFor(async () => (await aws.keys('originals/')).length === before, { timeoutMs: 10_000, message: 'no original left behind' });
    });
  });
});

describe('library rules', () => {
  test('another player’s video → 403 on detail and delete; unknown and non-UUID ids → 404', async () => {
    const [owner, other] = await Promise.all([stack.api.newPlayer(), stack.api.newPlayer()]);
    const { body } = await upload(owner.token, clip1080);
    const detail = await stack.api.get(`/api/videos/${body.video_id}`, other.token);
    assert.equal(detail.status, 403);
    assert.equal(detail.body.code, 'FORBIDDEN');
    const del = await stack.api.request('DELETE', `/api/videos/${body.video_id}`, { token: other.token });
    assert.equal(del.status, 403);
    assert.equal((await stack.api.get(`/api/videos/${randomUUID()}`, owner.token)).body.code, 'VIDEO_NOT_FOUND');
    assert.equal((await stack.api.get('/api/videos/not-a-uuid', owner.token)).status, 404);
    assert.equal((await stack.api.request('DELETE', '/api/videos/not-a-uuid', { token: owner.token })).status, 404);
  });

  test('delete before processing: 200, gone from the list, files removed; a second delete is 404', async () => {
    const player = await stack.api.newPlayer();
    const { body } = await upload(player.token, clip1080);
    const del = await stack.api.request('DELETE', `/api/videos/${body.video_id}`, { token: player.token });
    assert.equal(del.status, 200);
    assert.deepEqual(del.body, { message: 'El video ha sido eliminado exitosamente.', video_id: body.video_id });
    assert.deepEqual((await stack.api.get('/api/videos', player.token)).body, []);
    assert.equal((await stack.api.get(`/api/videos/${body.video_id}`, player.token)).status, 404);
    assert.equal((await stack.api.request('DELETE', `/api/videos/${body.video_id}`, { token: player.token })).status, 404);
    await waitFor(async () => (await aws.keys(`originals/${body.video_id}`)).length === 0, { timeoutMs: 15_000, message: 'original removed' });
  });

  test('processing reports move the status; a published video cannot be deleted; votes are counted', async () => {
    const player = await stack.api.newPlayer();
    const { body } = await upload(player.token, clip1080);
    const videoId = body.video_id as string;
    const status = async () => (await stack.api.get(`/api/videos/${videoId}`, player.token)).body;

    await aws.publish('VideoProcessingStarted', { videoId, attempt: 1, startedAt: new Date().toISOString() });
    await waitFor(async () => (await status()).status === 'processing', { timeoutMs: 15_000, message: 'processing' });

    const processed = {
      videoId,
      processedKey: `processed/${videoId}.mp4`,
      durationSeconds: 26,
      width: 1280,
      height: 720,
      sizeBytes: 1234,
      processingMs: 5000,
      processedAt: new Date().toISOString(),
    };
    const eventId = await aws.publish('VideoProcessed', processed);
    await aws.publish('VideoProcessed', processed, { id: eventId }); // a duplicate delivery
    await waitFor(async () => (await status()).status === 'processed', { timeoutMs: 15_000, message: 'processed' });
    const detail = await status();
    assert.match(detail.processed_url, new RegExp(`processed/${videoId}\\.mp4`));
    assert.equal(typeof detail.processed_at, 'string');
    const listed = (await stack.api.get('/api/videos', player.token)).body[0];
    assert.equal(listed.status, 'processed');
    assert.equal(typeof listed.processed_url, 'string');

    const del = await stack.api.request('DELETE', `/api/videos/${videoId}`, { token: player.token });
    assert.equal(del.status, 400);
    assert.equal(del.body.code, 'VIDEO_PUBLISHED');

    for (let i = 0; i < 3; i++) {
      await aws.publish('VoteCast', { voteId: randomUUID(), videoId, voterId: randomUUID(), ownerId: player.userId, castAt: new Date().toISOString() });
    }
    await waitFor(async () => (await status()).votes === 3, { timeoutMs: 15_000, message: 'three votes counted' });
  });

  test('a failure shows its reason, and a failed video can be deleted', async () => {
    const player = await stack.api.newPlayer();
    const { body } = await upload(player.token, clip1080);
    const videoId = body.video_id as string;
    await aws.publish('VideoProcessingFailed', { videoId, reason: 'ffmpeg falló: el archivo está dañado', retryable: false, attempt: 3, failedAt: new Date().toISOString() });
    await waitFor(async () => (await stack.api.get('/api/videos', player.token)).body[0]?.status === 'failed', { timeoutMs: 15_000, message: 'failed' });
    const listed = (await stack.api.get('/api/videos', player.token)).body[0];
    assert.equal(listed.failure_reason, 'ffmpeg falló: el archivo está dañado');
    assert.equal((await stack.api.request('DELETE', `/api/videos/${videoId}`, { token: player.token })).status, 200);
  });
});

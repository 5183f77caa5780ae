import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createDatabase, migrate, type Knex, type LogEvent } from '@anb/platform';
import { startTestDatabase, type LocalPostgres } from '@anb/platform/local';
import { videosProjection } from './videosProjection';

let pg: LocalPostgres;
let db: Knex;
before(async () => {
  pg = await startTestDatabase();
  db = createDatabase({ url: pg.url });
  await migrate(db, 'catalog', []);
});
after(async () => {
  await db?.destroy();
  await pg?.stop();
});

let seq = 0;
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 10, 0, s)).toISOString();
const ev = (origin: 'store' | 'inbox', type: string, data: Record<string, unknown>): LogEvent => ({
  origin,
  eventId: randomUUID(),
  type,
  data,
  streamId: `video:${String(data.videoId)}`,
  streamVersion: ++seq,
  time: new Date(),
});

/** A small history: processed and voted, failed, deleted, still processing, only uploaded. */
function history() {
  const owner = randomUUID();
  const ids = Array.from({ length: 5 }, () => randomUUID());
  const uploaded = ids.map((videoId, i) =>
    ev('store', 'VideoUploaded', {
      videoId,
      ownerId: owner,
      title: `v${i}`,
      originalKey: `originals/${videoId}.mp4`,
      sizeBytes: 1000 + i,
      durationSeconds: 21,
      width: 1920,
      height: 1080,
      uploadedAt: at(i),
    }),
  );
  const [a, b, c, d] = ids as [string, string, string, string, string];
  const later = [
    ev('inbox', 'VideoProcessingStarted', { videoId: a, attempt: 1, startedAt: at(10) }),
    ev('inbox', 'VideoProcessed', { videoId: a, processedKey: `processed/${a}.mp4`, durationSeconds: 26, width: 1280, height: 720, sizeBytes: 9, processingMs: 5, processedAt: at(20) }),
    ev('store', 'VideoPublished', { videoId: a, ownerId: owner, title: 'v0', processedKey: `processed/${a}.mp4`, publishedAt: at(21) }),
    ev('inbox', 'VoteCast', { voteId: randomUUID(), videoId: a, voterId: randomUUID(), ownerId: owner, castAt: at(30) }),
    ev('inbox', 'VoteCast', { voteId: randomUUID(), videoId: a, voterId: randomUUID(), ownerId: owner, castAt: at(31) }),
    ev('inbox', 'VideoProcessingStarted', { videoId: b, attempt: 1, startedAt: at(11) }),
    ev('inbox', 'VideoProcessingStarted', { videoId: b, attempt: 2, startedAt: at(12) }),
    ev('inbox', 'VideoProcessingFailed', { videoId: b, reason: 'ffmpeg falló', retryable: true, attempt: 2, failedAt: at(13) }),
    ev('inbox', 'VideoProcessingStarted', { videoId: c, attempt: 1, startedAt: at(14) }),
    ev('store', 'VideoDeleted', { videoId: c, ownerId: owner, deletedAt: at(15) }),
    ev('inbox', 'VoteCast', { voteId: randomUUID(), videoId: c, voterId: randomUUID(), ownerId: owner, castAt: at(32) }),
    ev('inbox', 'VideoProcessingStarted', { videoId: d, attempt: 1, startedAt: at(16) }),
  ];
  return { uploaded, later };
}

async function build(table: string, batches: LogEvent[][]) {
  await videosProjection.createTable(db, `catalog.${table}`);
  for (const batch of batches) await db.transaction((trx) => videosProjection.apply(trx, `catalog.${table}`, batch));
  return db(`catalog.${table}`).orderBy('video_id');
}

function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

test('one batch, one event at a time, or any order after the uploads: the same rows', async () => {
  const { uploaded, later } = history();
  const reference = await build('videos_ref', [[...uploaded, ...later]]);
  assert.equal(reference.length, 4, 'the deleted video is gone');
  const a = reference.find((r) => r.title === 'v0')!;
  assert.equal(a.status, 'processed');
  assert.equal(a.votes, 2);
  assert.equal(a.processed_key, `processed/${a.video_id}.mp4`);
  const b = reference.find((r) => r.title === 'v1')!;
  assert.deepEqual([b.status, b.failure_reason, b.processing_attempt], ['failed', 'ffmpeg falló', 2]);
  assert.equal(reference.find((r) => r.title === 'v3')!.status, 'processing');
  assert.equal(reference.find((r) => r.title === 'v4')!.status, 'uploaded');

  for (const seed of [1, 7, 42, 99]) {
    const events = shuffle(later, seed);
    const cut = 1 + (seed % (events.length - 1));
    const batches = [uploaded, ...events.slice(0, cut).map((e) => [e]), events.slice(cut)];
    assert.deepEqual(await build(`videos_s${seed}`, batches), reference, `seed ${seed}`);
  }
});

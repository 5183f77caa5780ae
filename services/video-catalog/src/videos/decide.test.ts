import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NotVideoOwner, VideoAlreadyExists, VideoAlreadyPublished, VideoNotFound, decide, type VideoCommand } from './decide';
import { evolve, initialState, type VideoEvent } from './video';

const videoId = '7d3f9a52-3b1e-4c55-9d0a-2f6f1b0c9e11';
const ownerId = '0b8f1c0e-7a2d-4f7e-9a51-2f3c4d5e6f70';
const other = 'a0a0a0a0-1111-4222-8333-444455556666';
const now = new Date('2026-03-10T14:30:00Z');
const meta = { now };

const given = (events: VideoEvent[]) => events.reduce(evolve, initialState());
const upload: VideoCommand = {
  type: 'RegisterUpload',
  data: { videoId, ownerId, title: 'Triple', sizeBytes: 1000, durationSeconds: 22, width: 1920, height: 1080 },
  metadata: meta,
};
const uploaded = () => decide(upload, given([]));
const publish: VideoCommand = { type: 'PublishVideo', data: { videoId, processedKey: `processed/${videoId}.mp4` }, metadata: meta };
const del = (by = ownerId): VideoCommand => ({ type: 'DeleteVideo', data: { videoId, requestedBy: by }, metadata: meta });

test('an upload records VideoUploaded with the original key', () => {
  const [event] = uploaded();
  assert.equal(event!.type, 'VideoUploaded');
  assert.equal(event!.type === 'VideoUploaded' && event!.data.originalKey, `originals/${videoId}.mp4`);
  assert.throws(() => decide(upload, given(uploaded())), VideoAlreadyExists);
});

test('publishing happens once, and never after a deletion', () => {
  const history = uploaded();
  const published = decide(publish, given(history));
  assert.deepEqual(published.map((e) => e.type), ['VideoPublished']);
  assert.deepEqual(decide(publish, given([...history, ...published])), []);
  const deleted = decide(del(), given(history));
  assert.deepEqual(decide(publish, given([...history, ...deleted])), []);
  assert.deepEqual(decide(publish, given([])), []);
});

test('deleting: only the owner, only while not published, only once', () => {
  const history = uploaded();
  assert.throws(() => decide(del(other), given(history)), NotVideoOwner);
  assert.deepEqual(decide(del(), given(history)).map((e) => e.type), ['VideoDeleted']);
  const published = [...history, ...decide(publish, given(history))];
  assert.throws(() => decide(del(), given(published)), VideoAlreadyPublished);
  const deleted = [...history, ...decide(del(), given(history))];
  assert.throws(() => decide(del(), given(deleted)), VideoNotFound);
  assert.throws(() => decide(del(), given([])), VideoNotFound);
});

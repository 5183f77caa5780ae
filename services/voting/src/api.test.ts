import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { envelopeOf, startVotingHarness, userRegistered, videoPublished, type VotingHarness } from './test-support/harness';

/** voting's HTTP API in process against a real PostgreSQL (the gateway's part — tokens — is in the end-to-end test). */
let h: VotingHarness;

before(async () => {
  h = await startVotingHarness();
});
after(async () => {
  await h?.stop();
});

async function player(over: Parameters<typeof userRegistered>[0] = {}) {
  const data = userRegistered(over);
  await h.deliver(envelopeOf('UserRegistered', data));
  return data;
}
async function publish(ownerId: string, over: Parameters<typeof videoPublished>[1] = {}) {
  const data = videoPublished(ownerId, over);
  await h.deliver(envelopeOf('VideoPublished', data));
  return data;
}
const vote = (videoId: string, userId?: string) => h.request('POST', `/api/public/videos/${videoId}/vote`, userId ? { userId } : {});

describe('voting', () => {
  test('a vote is recorded once, as VoteCast on the voter’s stream for the video', async () => {
    const owner = await player();
    const video = await publish(owner.userId);
    const voter = randomUUID();
    const first = await vote(video.videoId, voter);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, { message: 'Voto registrado exitosamente.', video_id: video.videoId });
    const events = await h.store.readStream(`vote:${video.videoId}:${voter}`);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.type, 'VoteCast');
    assert.deepEqual({ ...(events[0]!.data as object), voteId: undefined, castAt: undefined }, {
      voteId: undefined,
      castAt: undefined,
      videoId: video.videoId,
      voterId: voter,
      ownerId: owner.userId,
    });
    const again = await vote(video.videoId, voter);
    assert.equal(again.status, 400);
    assert.equal(again.body.code, 'ALREADY_VOTED');
    assert.equal(again.body.message, 'Ya has votado por este video.');
    // the same video written in capitals is the same video
    const shouting = await vote(video.videoId.toUpperCase(), voter);
    assert.equal(shouting.status, 400);
    assert.equal(shouting.body.code, 'ALREADY_VOTED');
  });

  test('a vote records the request it came in: request id as correlation and causation, the voter as actor', async () => {
    const owner = await player();
    const video = await publish(owner.userId);
    const voter = randomUUID();
    const requestId = `vote-request-${randomUUID()}`;
    const res = await h.request('POST', `/api/public/videos/${video.videoId}/vote`, { userId: voter, headers: { 'x-request-id': requestId } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), requestId);
    const [event] = await h.store.readStream(`vote:${video.videoId}:${voter}`);
    assert.equal(event!.metadata.correlationId, requestId);
    assert.equal(event!.metadata.causationId, requestId);
    assert.equal(event!.metadata.requestId, requestId);
    assert.equal(event!.metadata.actor, voter);
    // concurrent votes of other requests, written in one group commit, each keep their own request
    const others = Array.from({ length: 10 }, () => ({ voter: randomUUID(), requestId: randomUUID() }));
    await Promise.all(others.map((o) => h.request('POST', `/api/public/videos/${video.videoId}/vote`, { userId: o.voter, headers: { 'x-request-id': o.requestId } })));
    for (const o of others) {
      const [recorded] = await h.store.readStream(`vote:${video.videoId}:${o.voter}`);
      assert.deepEqual([recorded!.metadata.correlationId, recorded!.metadata.actor], [o.requestId, o.voter]);
    }
  });

  test('50 concurrent identical votes: exactly one is recorded', async () => {
    const owner = await player();
    const video = await publish(owner.userId);
    const voter = randomUUID();
    const results = await Promise.all(Array.from({ length: 50 }, () => vote(video.videoId, voter)));
    assert.equal(results.filter((r) => r.status === 200).length, 1);
    assert.equal(results.filter((r) => r.status === 400 && r.body.code === 'ALREADY_VOTED').length, 49);
    await h.subscriber.drain();
    const ranked = await h.db('voting.ranking').where({ user_id: owner.userId }).first();
    assert.equal(ranked.votes, 1);
    const shown = await h.db('voting.public_videos').where({ video_id: video.videoId }).first();
    assert.equal(shown.votes, 1);
  });

  test('concurrent first votes for a video look it up once', async () => {
    const owner = await player();
    const video = await publish(owner.userId);
    let lookups = 0;
    const count = (query: { sql: string; bindings?: unknown[] }) => {
      if (query.sql.includes('"public_videos"') && query.bindings?.includes(video.videoId)) lookups++;
    };
    h.db.on('query', count);
    try {
      const results = await Promise.all(Array.from({ length: 30 }, () => vote(video.videoId, randomUUID())));
      assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
    } finally {
      h.db.off('query', count);
    }
    assert.equal(lookups, 1);
  });

  test('unknown, malformed, unpublished and deleted videos are 404 VIDEO_NOT_FOUND', async () => {
    const owner = await player();
    const deleted = await publish(owner.userId);
    await h.deliver(envelopeOf('VideoDeleted', { videoId: deleted.videoId, ownerId: owner.userId, deletedAt: new Date().toISOString() }));
    for (const id of [randomUUID(), 'not-a-uuid', '123', deleted.videoId]) {
      const res = await vote(id, randomUUID());
      assert.equal(res.status, 404, id);
      assert.equal(res.body.code, 'VIDEO_NOT_FOUND');
      assert.equal(res.body.message, 'Video no encontrado.');
    }
  });

  test('without a user it is 401', async () => {
    const owner = await player();
    const video = await publish(owner.userId);
    const res = await vote(video.videoId);
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'UNAUTHORIZED');
  });
});

describe('votes in batches (as the gateway forwards them)', () => {
  const batch = (body: unknown, contentType = 'application/json') =>
    fetch(`${h.server.url}/internal/votes`, { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const call = (videoId: string, userId: string, requestId: string = randomUUID()) => ({ request_id: requestId, user_id: userId, params: { video_id: videoId } });

  test('each call gets the answer its own request would have, in order; duplicates within a batch count once', async () => {
    const owner = await player();
    const video = await publish(owner.userId);
    const deleted = await publish(owner.userId);
    await h.deliver(envelopeOf('VideoDeleted', { videoId: deleted.videoId, ownerId: owner.userId, deletedAt: new Date().toISOString() }));
    const [a, b] = [randomUUID(), randomUUID()];
    const calls = [
      call(video.videoId, a, 'req-a'),
      call(video.videoId.toUpperCase(), a, 'req-a-again'),
      call(randomUUID(), b),
      call('not-a-uuid', b),
      call(deleted.videoId, b),
      call(video.videoId, b.toUpperCase(), 'req-b'),
    ];
    const res = await batch(calls);
    assert.equal(res.status, 200);
    const outcomes = (await res.json()) as unknown[];
    const notFound = { status: 404, error: { code: 'VIDEO_NOT_FOUND', message: 'Video no encontrado.' } };
    assert.deepEqual(outcomes, [
      { status: 200, body: { message: 'Voto registrado exitosamente.', video_id: video.videoId } },
      { status: 400, error: { code: 'ALREADY_VOTED', message: 'Ya has votado por este video.' } },
      notFound,
      notFound,
      notFound,
      { status: 200, body: { message: 'Voto registrado exitosamente.', video_id: video.videoId } },
    ]);
    // recorded as the single route records: the call's request id as correlation, the voter as actor
    const [voteA] = await h.store.readStream(`vote:${video.videoId}:${a}`);
    assert.deepEqual([voteA!.metadata.correlationId, voteA!.metadata.causationId, voteA!.metadata.requestId, voteA!.metadata.actor], ['req-a', 'req-a', 'req-a', a]);
    const [voteB] = await h.store.readStream(`vote:${video.videoId}:${b}`);
    assert.deepEqual([voteB!.metadata.correlationId, voteB!.metadata.actor, (voteB!.data as { voterId: string }).voterId], ['req-b', b, b]);
    await h.subscriber.drain();
    assert.equal((await h.db('voting.ranking').where({ user_id: owner.userId }).first()).votes, 2);
    // and the single route sees the batched vote
    assert.equal((await vote(video.videoId, a)).body.code, 'ALREADY_VOTED');
  });

  test('50 identical calls in one batch and 50 in separate batches: exactly one vote', async () => {
    const owner = await player();
    const video = await publish(owner.userId);
    const voter = randomUUID();
    const together = (await (await batch(Array.from({ length: 50 }, () => call(video.videoId, voter)))).json()) as { status: number }[];
    const apart = await Promise.all(Array.from({ length: 50 }, async () => ((await (await batch([call(video.videoId, voter)])).json()) as { status: number }[])[0]!));
    const statuses = [...together, ...apart].map((o) => o.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1);
    assert.equal(statuses.filter((s) => s === 400).length, 99);
    assert.equal((await h.store.readStream(`vote:${video.videoId}:${voter}`)).length, 1);
  });

  test('a body that is not a batch is refused whole, and nothing is recorded', async () => {
    const owner = await player();
    const video = await publish(owner.userId);
    const voter = randomUUID();
    const good = call(video.videoId, voter);
    const refused: [unknown, number, string][] = [
      ['{"not json', 400, 'MALFORMED_JSON'],
      [[], 400, 'VALIDATION_ERROR'],
      [{ calls: [good] }, 400, 'VALIDATION_ERROR'],
      [Array.from({ length: 501 }, () => good), 400, 'VALIDATION_ERROR'],
    ];
    for (const [body, status, code] of refused) {
      const res = await batch(body);
      assert.equal(res.status, status, JSON.stringify(body).slice(0, 80));
      assert.equal(((await res.json()) as { code: string }).code, code);
    }
    const wrongType = await batch([good], 'text/plain');
    assert.equal(wrongType.status, 415);
    assert.equal((await h.store.readStream(`vote:${video.videoId}:${voter}`)).length, 0);
  });

  test('a malformed call fails alone: the others of its batch are recorded', async () => {
    const owner = await player();
    const video = await publish(owner.userId);
    const [a, b] = [randomUUID(), randomUUID()];
    const malformed = [
      { ...call(video.videoId, randomUUID()), user_id: 'forged' },
      { ...call(video.videoId, randomUUID()), request_id: 'has spaces' },
      { request_id: 'x', params: {} },
      { ...call('x'.repeat(201), randomUUID()) },
      'not a call',
    ];
    const res = await batch([call(video.videoId, a), ...malformed, call(video.videoId, b)]);
    assert.equal(res.status, 200);
    const outcomes = (await res.json()) as { status: number; error?: { code: string; errors?: { field: string }[] } }[];
    assert.deepEqual(outcomes.map((o) => o.status), [200, 400, 400, 400, 400, 400, 200]);
    for (const o of outcomes.slice(1, -1)) assert.equal(o.error!.code, 'VALIDATION_ERROR');
    assert.deepEqual(outcomes[1]!.error!.errors!.map((e) => e.field), ['user_id']);
    assert.equal((await h.store.readStream(`vote:${video.videoId}:${a}`)).length, 1);
    assert.equal((await h.store.readStream(`vote:${video.videoId}:${b}`)).length, 1);
  });
});

describe('public videos', () => {
  test('newest first with the owner’s public profile, X-Total-Count, pages, and voted_by_me only for a user', async () => {
    const owner = await player({ firstName: 'Lía', lastName: 'Gómez', city: 'Cartagena de Indias', country: 'Colombia' });
    const older = await publish(owner.userId, { title: 'Primero', publishedAt: '2030-01-01T10:00:00Z' });
    const newer = await publish(owner.userId, { title: 'Segundo', publishedAt: '2030-01-01T11:00:00Z' });
    const voter = randomUUID();
    assert.equal((await vote(older.videoId, voter)).status, 200);

    const anonymous = await h.request('GET', '/api/public/videos?city=cartagena%20de%20indias');
    assert.equal(anonymous.status, 200);
    assert.equal(anonymous.headers.get('x-total-count'), '2');
    assert.deepEqual(anonymous.body.map((v: any) => v.title), ['Segundo', 'Primero']);
    const item = anonymous.body[0];
    assert.deepEqual(Object.keys(item).sort(), ['city', 'country', 'processed_url', 'published_at', 'title', 'username', 'video_id', 'votes']);
    assert.equal(item.username, 'Lía Gómez');
    assert.equal(item.city, 'Cartagena de Indias');
    assert.equal(item.published_at, '2030-01-01T11:00:00.000Z');
    assert.match(item.processed_url, new RegExp(`/videos-test/processed/${newer.videoId}\\.mp4\\?.*X-Amz-Signature=`));

    const mine = await h.request('GET', '/api/public/videos?city=CARTAGENA DE INDIAS&page_size=1&page=2', { userId: voter });
    assert.equal(mine.headers.get('x-total-count'), '2');
    assert.equal(mine.body.length, 1);
    assert.equal(mine.body[0].video_id, older.videoId);
    assert.equal(mine.body[0].voted_by_me, true);
    const page1 = await h.request('GET', '/api/public/videos?city=cartagena de indias&page_size=1', { userId: voter });
    assert.equal(page1.body[0].voted_by_me, false);
    const past = await h.request('GET', '/api/public/videos?city=cartagena de indias&page=9');
    assert.deepEqual(past.body, []);
    assert.equal(past.headers.get('x-total-count'), '2');
    const pastMine = await h.request('GET', '/api/public/videos?city=cartagena de indias&page=9', { userId: voter });
    assert.deepEqual(pastMine.body, []);
    assert.match(pastMine.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(mine.headers.get('content-type') ?? '', /^application\/json/);
  });

  test('signed-in pages: each reader sees their own votes, the rest as anonymous, with fewer ballot reads than readers', async () => {
    const owner = await player({ city: 'Villa de Leyva', country: 'Colombia' });
    const videos = [await publish(owner.userId, { publishedAt: '2031-01-01T10:00:00Z' }), await publish(owner.userId, { publishedAt: '2031-01-01T11:00:00Z' })];
    // reader i votes for video i % 3 (0: the first, 1: the second, 2: none)
    const readers = Array.from({ length: 30 }, (_, i) => ({ id: randomUUID(), votedFor: i % 3 < 2 ? videos[i % 3]!.videoId : undefined }));
    for (const r of readers) if (r.votedFor) assert.equal((await vote(r.votedFor, r.id)).status, 200);
    const path = '/api/public/videos?city=villa%20de%20leyva';
    const anonymous = await h.request('GET', path);
    let ballotReads = 0;
    const count = (query: { sql: string }) => {
      if (query.sql.includes('stream_id = any(')) ballotReads++;
    };
    h.db.on('query', count);
    try {
      const pages = await Promise.all(readers.map((r) => h.request('GET', path, { userId: r.id })));
      for (const [i, page] of pages.entries()) {
        assert.equal(page.status, 200);
        assert.equal(page.headers.get('cache-control'), 'private, no-store');
        // exactly the anonymous page plus the reader's own flag on each item
        assert.deepEqual(
          page.body,
          anonymous.body.map((item: { video_id: string }) => ({ ...item, voted_by_me: item.video_id === readers[i]!.votedFor })),
        );
      }
    } finally {
      h.db.off('query', count);
    }
    assert.ok(ballotReads >= 1 && ballotReads < readers.length, `${ballotReads} ballot reads for ${readers.length} readers`);
  });

  test('the city filter ignores case and accents', async () => {
    const owner = await player({ city: 'Medellín', country: 'Colombia' });
    const video = await publish(owner.userId);
    for (const city of ['medellin', 'MEDELLÍN', ' Medellín ', 'mEdElLiN']) {
      const res = await h.request('GET', `/api/public/videos?city=${encodeURIComponent(city)}&page_size=100`);
      assert.ok(res.body.some((v: any) => v.video_id === video.videoId), city);
    }
    const other = await h.request('GET', '/api/public/videos?city=Cali&page_size=100');
    assert.ok(!other.body.some((v: any) => v.video_id === video.videoId));
  });

  test('a video published before its owner is known shows up when UserRegistered arrives', async () => {
    const owner = userRegistered({ city: 'Pasto' });
    const video = await publish(owner.userId);
    const before = await h.request('GET', '/api/public/videos?city=pasto');
    assert.deepEqual(before.body, []);
    await h.deliver(envelopeOf('UserRegistered', owner));
    const afterwards = await h.request('GET', '/api/public/videos?city=pasto');
    assert.deepEqual(afterwards.body.map((v: any) => v.video_id), [video.videoId]);
  });

  test('a VideoPublished delivered twice (same or new event id) is one entry; a deleted video disappears', async () => {
    const owner = await player({ city: 'Tunja' });
    const data = videoPublished(owner.userId);
    const envelope = envelopeOf('VideoPublished', data);
    await h.deliver(envelope);
    await h.deliver(envelope);
    await h.deliver(envelopeOf('VideoPublished', data));
    const res = await h.request('GET', '/api/public/videos?city=tunja');
    assert.equal(res.body.length, 1);
    assert.equal(res.headers.get('x-total-count'), '1');
    await h.deliver(envelopeOf('VideoDeleted', { videoId: data.videoId, ownerId: owner.userId, deletedAt: new Date().toISOString() }));
    // a late copy of the publication cannot bring it back
    await h.deliver(envelopeOf('VideoPublished', { ...data, publishedAt: new Date(Date.now() + 60_000).toISOString() }));
    const gone = await h.request('GET', '/api/public/videos?city=tunja');
    assert.deepEqual(gone.body, []);
  });

  test('invalid query values are 400 INVALID_QUERY naming the parameter', async () => {
    for (const query of ['page=0', 'page=abc', 'page_size=0', 'page_size=101', 'page=1.5', 'page=1&page=2', `city=${'x'.repeat(101)}`]) {
      const res = await h.request('GET', `/api/public/videos?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.code, 'INVALID_QUERY');
      assert.equal(res.body.message, 'Parámetro inválido en la consulta.');
      assert.ok(res.body.errors.length > 0);
    }
  });
});

describe('rankings', () => {
  // each test uses its own country so the assertions see only its players
  test('ordered by votes, ties by who reached the count first, then user id; positions run across pages', async () => {
    const country = `Ranklandia-${randomUUID().slice(0, 8)}`;
    const [a, b, c, d] = await Promise.all(
      ['Ana', 'Beto', 'Caro', 'Dani'].map((firstName, i) => player({ firstName, lastName: 'Test', city: i % 2 ? 'Bogotá' : 'Cali', country })),
    );
    const videos = {
      a: await publish(a!.userId),
      b: await publish(b!.userId),
      c: await publish(c!.userId),
      d: await publish(d!.userId),
    };
    // a: 3 votes; b and c: 2 each, b reaches 2 first; d: none
    const voteFrom = async (videoId: string, n: number) => {
      for (let i = 0; i < n; i++) assert.equal((await vote(videoId, randomUUID())).status, 200);
    };
    await voteFrom(videos.a.videoId, 3);
    await voteFrom(videos.b.videoId, 2);
    await voteFrom(videos.c.videoId, 2);
    await h.subscriber.drain();

    const all = await h.request('GET', `/api/public/rankings?country=${encodeURIComponent(country.toUpperCase())}`);
    assert.equal(all.status, 200);
    assert.equal(all.headers.get('x-total-count'), '4');
    assert.deepEqual(
      all.body.map((r: any) => [r.position, r.username, r.votes]),
      [
        [1, 'Ana Test', 3],
        [2, 'Beto Test', 2],
        [3, 'Caro Test', 2],
        [4, 'Dani Test', 0],
      ],
    );
    assert.deepEqual(Object.keys(all.body[0]).sort(), ['city', 'country', 'position', 'user_id', 'username', 'votes']);
    const page2 = await h.request('GET', `/api/public/rankings?country=${encodeURIComponent(country)}&page=2&page_size=2`);
    assert.deepEqual(page2.body.map((r: any) => [r.position, r.username]), [
      [3, 'Caro Test'],
      [4, 'Dani Test'],
    ]);
    // a city filter: positions count within the filtered list
    const bogota = await h.request('GET', `/api/public/rankings?country=${encodeURIComponent(country)}&city=bogota`);
    assert.deepEqual(bogota.body.map((r: any) => [r.position, r.username, r.city]), [
      [1, 'Beto Test', 'Bogotá'],
      [2, 'Dani Test', 'Bogotá'],
    ]);
    assert.equal(bogota.headers.get('x-total-count'), '2');
  });

  test('a deleted video’s votes leave the player’s total; players without published videos are not listed', async () => {
    const country = `Borrandia-${randomUUID().slice(0, 8)}`;
    const owner = await player({ country });
    await player({ country }); // registered, no videos
    const keep = await publish(owner.userId);
    const drop = await publish(owner.userId);
    for (const v of [keep, drop, drop]) assert.equal((await vote(v.videoId, randomUUID())).status, 200);
    await h.subscriber.drain();
    let res = await h.request('GET', `/api/public/rankings?country=${country}`);
    assert.deepEqual(res.body.map((r: any) => [r.user_id, r.votes]), [[owner.userId, 3]]);
    await h.deliver(envelopeOf('VideoDeleted', { videoId: drop.videoId, ownerId: owner.userId, deletedAt: new Date().toISOString() }));
    res = await h.request('GET', `/api/public/rankings?country=${country}`);
    assert.deepEqual(res.body.map((r: any) => [r.user_id, r.votes]), [[owner.userId, 1]]);
  });

  test('ETag and If-None-Match: an unchanged page is 304', async () => {
    const first = await h.request('GET', '/api/public/rankings?page_size=5');
    const etag = first.headers.get('etag');
    assert.ok(etag);
    assert.match(first.headers.get('cache-control') ?? '', /max-age=1/);
    const again = await h.request('GET', '/api/public/rankings?page_size=5', { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get('etag'), etag);
    const other = await h.request('GET', '/api/public/rankings?page_size=5', { headers: { 'if-none-match': 'W/"something-else"' } });
    assert.equal(other.status, 200);
  });

  test('invalid values are 400 with the contract’s message', async () => {
    for (const query of ['page=0', 'page=-1', 'page_size=1000', 'page_size=x', 'country=a&country=b']) {
      const res = await h.request('GET', `/api/public/rankings?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.message, 'Parámetro inválido en la consulta.');
      assert.equal(res.body.code, 'INVALID_QUERY');
    }
  });
});

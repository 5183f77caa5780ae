import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { sourceOfEvent, subjectOf, type DomainEvent, type EventData, type EventType, type RawEnvelope } from '@anb/contracts';
import { createDatabase, type Knex } from '@anb/platform';
import { waitFor } from '@anb/platform/local';
import { repoRoot } from '../stack/stack';
import { startTestStack, type TestStack } from './support';

/**
 * The public part end to end through the gateway: players from real signups (UserRegistered flows auth →
 * SNS → voting's queue), videos published by sending VideoPublished to the catalog topic as the catalog
 * would, votes with real tokens, the ranking, and the replay tool against the running stack.
 */
let stack: TestStack;
let sns: SNSClient;
let db: Knex;

before(async () => {
  stack = await startTestStack({ services: ['auth', 'voting', 'gateway'] });
  sns = new SNSClient({ region: 'us-east-1', endpoint: stack.awsEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  db = createDatabase({ url: stack.databaseUrl, poolMax: 4 });
});
after(async () => {
  sns?.destroy();
  await db?.destroy();
  await stack?.stop();
});

function envelopeOf<T extends EventType>(type: T, data: EventData<T>, id = randomUUID()): RawEnvelope {
  return {
    specversion: '1.0',
    id,
    source: sourceOfEvent(type),
    type,
    time: new Date().toISOString(),
    subject: subjectOf({ type, data } as DomainEvent),
    datacontenttype: 'application/json',
    streamversion: 1,
    correlationid: id,
    causationid: id,
    data,
  };
}

/** Publishes an event on its producer's topic, as that service's relay would. */
async function publish(envelope: RawEnvelope): Promise<void> {
  const topic = envelope.source === 'anb.auth' ? 'auth-events' : 'catalog-events';
  await sns.send(
    new PublishCommand({
      TopicArn: stack.resources.topics[topic],
      Message: JSON.stringify(envelope),
      MessageAttributes: {
        type: { DataType: 'String', StringValue: envelope.type },
        source: { DataType: 'String', StringValue: envelope.source },
      },
    }),
  );
}

let clock = Date.parse('2026-03-01T12:00:00Z');
/** Publishes a video of a player (distinct, increasing publication times) and waits until the showcase shows it. */
async function publishVideo(ownerId: string, title: string, options: { wait?: boolean } = {}) {
  const videoId = randomUUID();
  clock += 60_000;
  const data = { videoId, ownerId, title, processedKey: `processed/${videoId}.mp4`, publishedAt: new Date(clock).toISOString() };
  const envelope = envelopeOf('VideoPublished', data);
  await publish(envelope);
  if (options.wait !== false) await waitForVideo(videoId);
  return { ...data, envelope };
}

/** Waits until the showcase (through the gateway) shows — or no longer shows — a video. */
async function waitForVideo(videoId: string, present = true) {
  await waitFor(
    async () => {
      const res = await stack.api.get('/api/public/videos?page_size=100');
      return res.status === 200 && res.body.some((v: any) => v.video_id === videoId) === present;
    },
    { timeoutMs: 60_000, intervalMs: 100, message: `video ${videoId} ${present ? 'shows' : 'disappears'}` },
  );
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

const vote = (videoId: string, token?: string) => stack.api.request('POST', `/api/public/videos/${videoId}/vote`, token ? { token } : {});
const rankings = (query = '') => stack.api.get(`/api/public/rankings${query ? `?${query}` : ''}`);

/**
 * Waits until the ranking (by default its first page of 100) shows exactly these votes for these
 * players, and returns that answer. Each page URL is cached for a moment (voting and the gateway), so
 * a test that then asserts on another page waits on that page itself.
 */
async function waitForRanking(expected: Record<string, number>, query = 'page_size=100') {
  return waitFor(
    async () => {
      const res = await rankings(query);
      const seen = new Map(res.body.map((r: any) => [r.user_id, r.votes]));
      return Object.entries(expected).every(([user, votes]) => seen.get(user) === votes) ? res : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50, message: `ranking shows ${JSON.stringify(expected)}` },
  );
}

/** Waits until voting has heard of these players (their UserRegistered travels auth → SNS → SQS). */
async function waitForPlayers(userIds: readonly string[]) {
  await waitFor(
    async () => {
      const rows = await db('voting.ranking').whereIn('user_id', [...userIds]).whereNotNull('username').count('* as n').first();
      return Number(rows!.n) === new Set(userIds).size;
    },
    { timeoutMs: 60_000, intervalMs: 100, message: `voting knows ${userIds.length} players` },
  );
}

function runReplay(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'src', 'replay.ts'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: stack.databaseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Polls the public API until stopped; every answer must be a success. */
function pollApi() {
  let running = true;
  const statuses: number[] = [];
  const done = (async () => {
    while (running) {
      const [r, v] = await Promise.all([rankings('page_size=50'), stack.api.get('/api/public/videos?page_size=50')]);
      statuses.push(r.status, v.status);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return statuses;
    },
  };
}

async function tableRows(table: string) {
  return db(table).select('*').orderBy(table.includes('public_videos') ? 'video_id' : 'user_id');
}

describe('the public showcase, votes and the ranking', () => {
  let ana: Awaited<ReturnType<TestStack['api']['newPlayer']>>;
  let beto: Awaited<ReturnType<TestStack['api']['newPlayer']>>;
  const videos: Record<string, Awaited<ReturnType<typeof publishVideo>>> = {};
  let voters: Awaited<ReturnType<TestStack['api']['newPlayer']>>[] = [];

  before(async () => {
    ana = await stack.api.newPlayer({ first_name: 'Ana', last_name: 'Pérez', city: 'Bogotá', country: 'Colombia' });
    beto = await stack.api.newPlayer({ first_name: 'Beto', last_name: 'Ruiz', city: 'Medellín', country: 'Colombia' });
    videos.a1 = await publishVideo(ana.userId, 'Ana: triple');
    videos.b1 = await publishVideo(beto.userId, 'Beto: mate');
    videos.a2 = await publishVideo(ana.userId, 'Ana: bandeja');
    videos.b2 = await publishVideo(beto.userId, 'Beto: crossover');
    voters = await mapLimit(Array.from({ length: 12 }), 4, () => stack.api.newPlayer({ city: 'Cali', country: 'Colombia' }));
  });

  test('the showcase: newest first, player data, city filter with and without accents, X-Total-Count, voted_by_me only with a token', async () => {
    const all = await stack.api.get('/api/public/videos');
    assert.equal(all.status, 200);
    assert.equal(all.headers.get('x-total-count'), '4');
    assert.deepEqual(all.body.map((v: any) => v.title), ['Beto: crossover', 'Ana: bandeja', 'Beto: mate', 'Ana: triple']);
    assert.ok(all.body.every((v: any) => !('voted_by_me' in v)));
    const first = all.body[0];
    assert.equal(first.username, 'Beto Ruiz');
    assert.equal(first.city, 'Medellín');
    assert.equal(first.country, 'Colombia');
    assert.equal(first.votes, 0);
    assert.match(first.processed_url, new RegExp(`processed/${videos.b2!.videoId}\\.mp4\\?.*X-Amz-Signature=`));

    for (const city of ['bogota', 'Bogotá', 'BOGOTA']) {
      const res = await stack.api.get(`/api/public/videos?city=${encodeURIComponent(city)}`);
      assert.deepEqual(res.body.map((v: any) => v.video_id), [videos.a2!.videoId, videos.a1!.videoId], city);
      assert.equal(res.headers.get('x-total-count'), '2');
    }
    const page2 = await stack.api.get('/api/public/videos?page=2&page_size=3');
    assert.deepEqual(page2.body.map((v: any) => v.video_id), [videos.a1!.videoId]);

    const withToken = await stack.api.get('/api/public/videos', voters[0]!.token);
    assert.ok(withToken.body.every((v: any) => v.voted_by_me === false));
    const bad = await stack.api.get('/api/public/videos?page_size=500');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'INVALID_QUERY');
  });

  test('votes: ranking by votes, ties to whoever reached the count first, positions across pages, city and country filters', async () => {
    // Ana reaches 3 first, then Beto reaches 3: a tie that Ana leads
    for (const v of voters.slice(0, 3)) assert.equal((await vote(videos.a1!.videoId, v.token)).status, 200);
    await waitForRanking({ [ana.userId]: 3, [beto.userId]: 0 });
    for (const v of voters.slice(3, 6)) assert.equal((await vote(videos.b1!.videoId, v.token)).status, 200);
    const tied = await waitFor(
      async () => {
        const res = await rankings();
        return res.body.find((r: any) => r.user_id === beto.userId)?.votes === 3 ? res : undefined;
      },
      { timeoutMs: 30_000, message: 'Beto reaches 3' },
    );
    assert.equal(tied.headers.get('x-total-count'), '2');
    assert.deepEqual(tied.body, [
      { position: 1, username: 'Ana Pérez', city: 'Bogotá', votes: 3, user_id: ana.userId, country: 'Colombia' },
      { position: 2, username: 'Beto Ruiz', city: 'Medellín', votes: 3, user_id: beto.userId, country: 'Colombia' },
    ]);
    const page2 = await rankings('page=2&page_size=1');
    assert.deepEqual(page2.body.map((r: any) => [r.position, r.username]), [[2, 'Beto Ruiz']]);
    assert.equal(page2.headers.get('x-total-count'), '2');

    // one more for Beto, on his other video: he leads
    assert.equal((await vote(videos.b2!.videoId, voters[0]!.token)).status, 200);
    // the default page (last read above, while Beto had 3) is the one asserted on: wait on it
    const now = await waitForRanking({ [beto.userId]: 4, [ana.userId]: 3 }, '');
    assert.deepEqual(now.body.map((r: any) => [r.position, r.username, r.votes]), [
      [1, 'Beto Ruiz', 4],
      [2, 'Ana Pérez', 3],
    ]);
    for (const [query, names] of [
      ['city=medellin', ['Beto Ruiz']],
      ['city=Medell%C3%ADn', ['Beto Ruiz']],
      ['city=BOGOTA', ['Ana Pérez']],
      ['country=colombia', ['Beto Ruiz', 'Ana Pérez']],
      ['city=bogota&country=COLOMBIA', ['Ana Pérez']],
      ['city=lima', []],
    ] as const) {
      const res = await rankings(query);
      assert.equal(res.status, 200, query);
      assert.deepEqual(res.body.map((r: any) => r.username), names, query);
      // positions count within the filtered list
      assert.deepEqual(res.body.map((r: any) => r.position), names.map((_, i) => i + 1), query);
    }
    // the voter sees their own vote
    const mine = await stack.api.get(`/api/public/videos?city=medellin`, voters[0]!.token);
    assert.deepEqual(mine.body.map((v: any) => [v.video_id, v.voted_by_me]), [
      [videos.b2!.videoId, true],
      [videos.b1!.videoId, false],
    ]);
    await waitFor(async () => (await stack.api.get('/api/public/videos?city=medellin')).body[0]?.votes === 1, {
      timeoutMs: 30_000,
      message: 'the showcase counts the vote',
    });
  });

  test('the ranking answers ETag / If-None-Match with 304 and a short Cache-Control', async () => {
    const first = await rankings('page_size=10');
    const etag = first.headers.get('etag');
    assert.ok(etag);
    assert.match(first.headers.get('cache-control') ?? '', /max-age=\d/);
    const again = await stack.api.request('GET', '/api/public/rankings?page_size=10', { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
  });

  test('50 concurrent identical votes: exactly one 200, 49 × 400 ALREADY_VOTED, counted once', async () => {
    const voter = voters[11]!;
    const before = (await rankings('page_size=100')).body.find((r: any) => r.user_id === ana.userId).votes;
    const results = await Promise.all(Array.from({ length: 50 }, () => vote(videos.a2!.videoId, voter.token)));
    assert.deepEqual(
      results.map((r) => r.status).sort(),
      [200, ...Array.from({ length: 49 }, () => 400)],
    );
    assert.ok(results.filter((r) => r.status === 400).every((r) => r.body.code === 'ALREADY_VOTED' && r.body.message === 'Ya has votado por este video.'));
    assert.deepEqual(results.find((r) => r.status === 200)!.body, { message: 'Voto registrado exitosamente.', video_id: videos.a2!.videoId });
    await waitForRanking({ [ana.userId]: before + 1 });
    const streams = await db('voting.events').where({ stream_id: `vote:${videos.a2!.videoId}:${voter.userId}` });
    assert.equal(streams.length, 1);
  });

  test('unknown, malformed, unpublished and deleted videos are 404; no token is 401; bad ranking parameters are 400', async () => {
    const token = voters[1]!.token;
    for (const id of [randomUUID(), 'not-a-uuid']) {
      const res = await vote(id, token);
      assert.equal(res.status, 404, id);
      assert.deepEqual([res.body.code, res.body.message], ['VIDEO_NOT_FOUND', 'Video no encontrado.']);
    }
    // published, then deleted by its owner
    const doomed = await publishVideo(ana.userId, 'Ana: se va');
    await publish(envelopeOf('VideoDeleted', { videoId: doomed.videoId, ownerId: ana.userId, deletedAt: new Date().toISOString() }));
    await waitForVideo(doomed.videoId, false);
    const deleted = await vote(doomed.videoId, token);
    assert.equal(deleted.status, 404);
    assert.equal(deleted.body.code, 'VIDEO_NOT_FOUND');

    const anonymous = await vote(videos.a1!.videoId);
    assert.equal(anonymous.status, 401);
    const forged = await vote(videos.a1!.videoId, 'abc.def.ghi');
    assert.equal(forged.status, 401);

    for (const query of ['page=0', 'page_size=0', 'page_size=101', 'page=x', 'page=1&page=2']) {
      const res = await rankings(query);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.message, 'Parámetro inválido en la consulta.');
      assert.equal(res.body.code, 'INVALID_QUERY');
    }
  });

  test('a VideoPublished delivered twice (and republished with a new event id) is one showcase entry', async () => {
    const carla = await stack.api.newPlayer({ first_name: 'Carla', last_name: 'Díaz', city: 'Tunja', country: 'Colombia' });
    const video = await publishVideo(carla.userId, 'Carla: tapón');
    await publish(video.envelope);
    const { envelope: _first, ...data } = video;
    const again = envelopeOf('VideoPublished', data);
    await publish(again);
    // both copies reached voting's inbox (the exact duplicate was absorbed there)
    await waitFor(async () => (await db('voting.inbox').where({ event_id: again.id }).first()) !== undefined, {
      timeoutMs: 30_000,
      message: 'the republication arrives',
    });
    const res = await stack.api.get('/api/public/videos?city=tunja');
    assert.deepEqual(res.body.map((v: any) => v.video_id), [video.videoId]);
    assert.equal(res.headers.get('x-total-count'), '1');
  });

  test('a video published before its owner is known shows up once UserRegistered arrives', async () => {
    const ownerId = randomUUID();
    const video = await publishVideo(ownerId, 'Dora: alley-oop', { wait: false });
    await waitFor(async () => (await db('voting.public_videos').where({ video_id: video.videoId }).first()) !== undefined, {
      timeoutMs: 30_000,
      message: 'the publication arrives',
    });
    assert.deepEqual((await stack.api.get('/api/public/videos?city=pasto')).body, []);
    await publish(
      envelopeOf('UserRegistered', { userId: ownerId, firstName: 'Dora', lastName: 'Mena', city: 'Pasto', country: 'Colombia', registeredAt: new Date().toISOString() }),
    );
    // the public pages are cached for a fraction of a second: wait for the answer, not the database
    const res = await waitFor(
      async () => {
        const r = await stack.api.get('/api/public/videos?city=PASTO');
        return r.body.length > 0 ? r : undefined;
      },
      { timeoutMs: 60_000, message: 'the video shows with its owner' },
    );
    assert.deepEqual(res.body.map((v: any) => [v.video_id, v.username]), [[video.videoId, 'Dora Mena']]);
  });

  test('after a few hundred random votes, replay rebuilds tables equal to the live ones; a second replay is identical; the API answers throughout', async () => {
    const more = await mapLimit(Array.from({ length: 28 }), 4, () => stack.api.newPlayer({ city: 'Cali', country: 'Colombia' }));
    const crowd = [...voters, ...more];
    for (const [key, owner] of [['a3', ana], ['b3', beto], ['a4', ana], ['b4', beto]] as const) {
      videos[key] = await publishVideo(owner.userId, `${owner.signup.first_name}: ${key}`);
    }
    const shown = Object.values(videos);
    const pairs = crowd.flatMap((voter) => shown.map((video) => ({ voter, video }))).filter(() => Math.random() < 0.75);
    const results = await mapLimit(pairs, 10, ({ voter, video }) => vote(video.videoId, voter.token));
    const accepted = results.filter((r) => r.status === 200).length;
    assert.ok(results.every((r) => r.status === 200 || r.body.code === 'ALREADY_VOTED'));
    assert.ok(accepted >= 150, `only ${accepted} votes`);
    const total = await db('voting.events').where({ type: 'VoteCast' }).count('* as n').first();
    // every vote (of every test) counted in the ranking
    await waitFor(
      async () => {
        const res = await rankings('page_size=100');
        return res.body.reduce((n: number, r: any) => n + r.votes, 0) === Number(total!.n);
      },
      { timeoutMs: 30_000, message: 'the ranking counts every vote' },
    );
    // nothing in flight any more: every player's registration has arrived
    await waitForPlayers([ana, beto, ...crowd].map((p) => p.userId));
    const apiBefore = (await rankings('page_size=100')).body;
    const liveBefore = await tableRows('voting.ranking');

    const poller = pollApi();
    const first = await runReplay(['voting', 'ranking']);
    const second = await runReplay(['voting', 'ranking']);
    const showcase = await runReplay(['voting', 'public-videos']);
    const players = await runReplay(['voting', 'players']);
    const dry = await runReplay(['voting', 'ranking', '--dry-run']);
    const statuses = await poller.stop();
    for (const run of [first, second, showcase, players, dry]) {
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /identical: \d+ rows/, run.stdout);
    }
    assert.match(first.stdout, /swapped: voting\.ranking now reads voting\.ranking_v2/);
    assert.match(second.stdout, /swapped: voting\.ranking now reads voting\.ranking_v3/);
    assert.match(second.stdout, /dropped older versions: voting\.ranking_v1/);
    assert.match(dry.stdout, /dry run: nothing changed; voting\.ranking still reads voting\.ranking_v3/);
    assert.ok(statuses.length > 0 && statuses.every((s) => s === 200), `API answers during the replays: ${[...new Set(statuses)].join(', ')}`);

    // row for row: the rebuilt tables equal the live table they replaced
    assert.deepEqual(await tableRows('voting.ranking_v3'), liveBefore);
    assert.deepEqual(await tableRows('voting.ranking_v2'), liveBefore);
    assert.deepEqual(await tableRows('voting.ranking'), liveBefore);
    assert.deepEqual((await rankings('page_size=100')).body, apiBefore);
    const registry = await db('voting.projections').orderBy('name').select('name', 'version', 'live_table');
    assert.deepEqual(registry, [
      { name: 'players', version: 2, live_table: 'voting.players_v2' },
      { name: 'public_videos', version: 2, live_table: 'voting.public_videos_v2' },
      { name: 'ranking', version: 3, live_table: 'voting.ranking_v3' },
    ]);

    // votes after the swaps land in the new tables, once
    const late = await stack.api.newPlayer({ city: 'Cali', country: 'Colombia' });
    assert.equal((await vote(videos.a1!.videoId, late.token)).status, 200);
    const anaVotes = apiBefore.find((r: any) => r.user_id === ana.userId).votes;
    await waitForRanking({ [ana.userId]: anaVotes + 1 });
    await waitForPlayers([late.userId]);
  });

  test('a replay killed half-way is redone by the next run with the same result', async () => {
    const live = await tableRows('voting.ranking');
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'src', 'replay.ts'), 'voting', 'ranking', '--batch-size', '3'], {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: stack.databaseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await waitFor(() => /rebuild .*[1-9]\d* \/ /.test(stderr) || child.exitCode !== null, { timeoutMs: 60_000, message: 'the replay makes progress' });
    child.kill('SIGKILL');
    await exited;
    const rerun = await runReplay(['voting', 'ranking']);
    assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
    assert.match(rerun.stdout, /identical/);
    assert.deepEqual(await tableRows('voting.ranking'), live);
  });

  test('replay explains itself when called wrongly', async () => {
    const unknown = await runReplay(['voting', 'nothing']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /voting has no projection nothing; it has: players, public-videos, ranking/);
    const usage = await runReplay(['voting']);
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /usage: npm run replay -- <service> <projection>/);
  });
});

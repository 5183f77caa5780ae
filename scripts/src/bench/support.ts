import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SignJWT, calculateJwkThumbprint, exportJWK } from 'jose';
import { sourceOfEvent } from '@anb/contracts';
import { accessTokenAlgorithm, type Knex } from '@anb/platform';
import { waitFor } from '@anb/platform/local';
import { repoRoot, type RunningStack, type StackOptions } from '../stack/stack';
import type { LoadRequest } from './load';

/** The bare Koa hello-world (hello.ts) in its own process; resolves once it listens. */
export async function startHello(env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'src', 'bench', 'hello.ts')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString().split('\n')[0]!).port));
    child.once('exit', () => reject(new Error('hello-world exited')));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/**
 * Ctrl-C or a kill in the middle of a benchmark stops what it started before it exits: the services
 * follow their parent out by themselves, but PostgreSQL and moto would outlive it.
 */
export function stopOnSignals(stop: () => Promise<unknown>): void {
  const codes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
  for (const signal of Object.keys(codes) as (keyof typeof codes)[]) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping what the benchmark started…\n`);
      void stop().finally(() => process.exit(codes[signal]));
    });
  }
}

/** The key id auth publishes for a signing key (public or private): its JWK thumbprint. */
export async function keyId(key: KeyObject): Promise<string> {
  // (the thumbprint covers the members that define the public key, whatever else the JWK holds)
  return calculateJwkThumbprint(await exportJWK(key));
}

/** A signing key as auth generates one (RSA-2048: tokens are RS256), as PKCS8 PEM for AUTH_JWT_PRIVATE_KEY. */
export function authKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/**
 * Access tokens exactly as auth issues them (RS256 for an RSA key, EdDSA for Ed25519; issuer/audience,
 * an hour), each for a new user, so a benchmark needs no argon2 signups for thousands of voters.
 */
export async function mintAccessTokens(privateKey: KeyObject, count: number): Promise<string[]> {
  const kid = await keyId(privateKey);
  const alg = accessTokenAlgorithm(privateKey);
  if (!alg) throw new Error(`auth signs with RSA (2048 bits or more) or Ed25519 keys, not ${privateKey.asymmetricKeyType}`);
  const now = Math.floor(Date.now() / 1000);
  return Promise.all(
    Array.from({ length: count }, () =>
      new SignJWT({})
        .setProtectedHeader({ alg, kid, typ: 'JWT' })
        .setSubject(randomUUID())
        .setIssuer('anb-auth')
        .setAudience('anb-api')
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .setJti(randomUUID())
        .sign(privateKey),
    ),
  );
}

/** A video owner through the real signup (argon2 and all); their user id. Cities rotate over three. */
export async function signupOwner(gateway: string, i: number): Promise<string> {
  const email = `owner-${i}-${randomUUID().slice(0, 8)}@example.com`;
  const res = await fetch(`${gateway}/api/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      first_name: `Jugador${i}`,
      last_name: 'Bench',
      email,
      password1: 'Canasta2025!',
      password2: 'Canasta2025!',
      city: ['Bogotá', 'Medellín', 'Cali'][i % 3],
      country: 'Colombia',
    }),
  });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { user_id: string }).user_id;
}

/**
 * `count` videos published as the catalog would: VideoPublished sent to the catalog topic, owners in turn,
 * on a stack with none yet. Their ids, once the showcase shows them all (voting has consumed them).
 */
export async function publishVideos(stack: RunningStack, owners: readonly string[], count: number): Promise<string[]> {
  const sns = new SNSClient({ region: 'us-east-1', endpoint: stack.awsEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const ids: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const videoId = randomUUID();
      const id = randomUUID();
      const data = { videoId, ownerId: owners[i % owners.length]!, title: `Jugada ${i + 1}`, processedKey: `processed/${videoId}.mp4`, publishedAt: new Date(Date.now() + i).toISOString() };
      const envelope = {
        specversion: '1.0',
        id,
        source: sourceOfEvent('VideoPublished'),
        type: 'VideoPublished',
        time: new Date().toISOString(),
        subject: videoId,
        datacontenttype: 'application/json',
        streamversion: 1,
        correlationid: id,
        causationid: id,
        data,
      };
      await sns.send(
        new PublishCommand({
          TopicArn: stack.resources.topics['catalog-events'],
          Message: JSON.stringify(envelope),
          MessageAttributes: { type: { DataType: 'String', StringValue: 'VideoPublished' }, source: { DataType: 'String', StringValue: envelope.source } },
        }),
      );
      ids.push(videoId);
    }
  } finally {
    sns.destroy();
  }
  await waitFor(async () => (await fetch(`${stack.gatewayUrl}/api/public/videos`)).headers.get('x-total-count') === String(count), {
    timeoutMs: 120_000,
    intervalMs: 200,
    message: 'the published videos reach the showcase (UserRegistered and VideoPublished through SNS/SQS)',
  });
  return ids;
}

/**
 * What the vote benchmarks run: auth, voting and the gateway, logs off; commits durable as on RDS (a
 * throwaway PostgreSQL runs with fsync off otherwise); the services' own cost, like the bare Koa's
 * (`telemetry`: with OpenTelemetry, as `npm start` runs them); auth signing with `pem`, which the
 * benchmark also holds to mint voters' tokens as auth would.
 */
export function voteBenchStack(pem: string, telemetry: boolean) {
  return {
    services: ['auth', 'voting', 'gateway'],
    postgresFlags: ['-c', 'fsync=on'],
    logs: 'silent',
    env: { LOG_LEVEL: 'warn', RATE_LIMIT_AUTH_PER_MINUTE: '0', ...(telemetry ? {} : { OTEL_SDK_DISABLED: 'true' }) },
    serviceEnv: { auth: { AUTH_JWT_PRIVATE_KEY: pem } },
  } satisfies StackOptions;
}

/** The items in a random order (Fisher–Yates, in place). */
function shuffle<A extends { length: number; [index: number]: unknown }>(items: A): A {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const item = items[i]!;
    items[i] = items[j]!;
    items[j] = item;
  }
  return items;
}

/**
 * Every voter–video pair once, in a random order, as numbers (voter × videos + video) in a typed array:
 * each request is made when it is sent. Tens of thousands of small pair objects made just before a run
 * would be copied by the load generator's first young-generation collections while it measures (a
 * 22 ms pause, once, seen 0.23 s into bench:votes' votes), which every vote in flight counts as latency.
 */
export function shuffledPairs(voters: number, videos: number): { at(i: number): { voter: number; video: number } | undefined } {
  const pairs = shuffle(Uint32Array.from({ length: voters * videos }, (_, k) => k));
  return { at: (i) => (i < pairs.length ? { voter: Math.floor(pairs[i]! / videos), video: pairs[i]! % videos } : undefined) };
}

/**
 * PostgreSQL's write-ahead log as on a database that has been running for a while: segments ready for
 * reuse. A cluster made for the run has none, so whichever commit first runs past the end of a 16 MB
 * segment creates the next one — 16 MB of zeros and an fsync, 25–39 ms here, while every other commit
 * waits (perf trace: an fsync of that length in each window where all 50 votes in flight were slow
 * together, one or two per 8 s of votes). A long-running server reuses old segments instead (renamed at
 * each checkpoint). So: switch to a new segment `segments` times, outside the measurement, and take a
 * checkpoint, which keeps those segments for reuse. Needs a superuser (embedded PostgreSQL is one);
 * false when it could not be done (the run then pays for new segments, as before).
 */
export async function reuseWalSegments(db: Knex, segments: number): Promise<boolean> {
  try {
    for (let i = 0; i < segments; i++) {
      // (a switch needs something written since the last one: a transaction id's commit record)
      await db.raw('select pg_current_xact_id()');
      await db.raw('select pg_switch_wal()');
    }
    await db.raw('checkpoint');
    return true;
  } catch {
    return false;
  }
}

/** A vote for a video as a signed-in voter sends it through the gateway. */
export function voteRequest(videoId: string, token: string): LoadRequest {
  return { path: `/api/public/videos/${videoId}/vote`, method: 'POST', headers: { authorization: `Bearer ${token}` } };
}

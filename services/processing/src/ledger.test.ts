import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { bootstrapTopology } from '@anb/infra';
import { awsClientConfig } from '@anb/platform';
import { startTestAws, type LocalAws } from '@anb/platform/local';
import { claimDecision, JobLedger, ledgerRetentionDays, type JobRecord, type StoredOutcome } from './ledger';

const videoId = '6a1f0c52-7a43-4d0e-9b64-1f9f8d3c2b10';
const cause = { correlationId: randomUUID(), causationId: randomUUID() };
const processed = (id = videoId): StoredOutcome => ({
  type: 'VideoProcessed',
  attempt: 1,
  cause,
  data: {
    videoId: id,
    processedKey: `processed/${id}.mp4`,
    durationSeconds: 26,
    width: 1280,
    height: 720,
    sizeBytes: 1000,
    processingMs: 5000,
    processedAt: '2026-01-01T10:00:00.000Z',
  },
});
const failed = (id = videoId): StoredOutcome => ({
  type: 'VideoProcessingFailed',
  attempt: 3,
  cause,
  data: { videoId: id, reason: 'ffmpeg falló: x', retryable: true, attempt: 3, failedAt: '2026-01-01T10:00:00.000Z' },
});

describe('claimDecision (what a claim finds)', () => {
  const now = 1_000_000;
  const running = (leaseExpiresAt: number): JobRecord => ({ videoId, status: 'running', attempts: 2, leaseOwner: 'w1/abc', leaseExpiresAt });

  test('no item, or an item without a status: claimable', () => {
    assert.deepEqual(claimDecision(undefined, now), { kind: 'claimable' });
    assert.deepEqual(claimDecision({ videoId }, now), { kind: 'claimable' });
  });
  test('running with a live lease: running elsewhere, with the time left; an expired lease is claimable', () => {
    assert.deepEqual(claimDecision(running(now + 12_000), now), { kind: 'running-elsewhere', owner: 'w1/abc', remainingMs: 12_000, attempt: 2 });
    assert.deepEqual(claimDecision(running(now), now), { kind: 'claimable' });
    assert.deepEqual(claimDecision(running(now - 1), now), { kind: 'claimable' });
  });
  test('finished: the stored outcome, to be announced again', () => {
    const done = processed();
    assert.deepEqual(claimDecision({ videoId, status: 'done', outcome: done }, now), { kind: 'already-done', outcome: done });
    const failure = failed();
    assert.deepEqual(claimDecision({ videoId, status: 'failed', outcome: failure }, now), { kind: 'already-failed', outcome: failure });
  });
  test('the deletion mark wins over everything', () => {
    assert.deepEqual(claimDecision({ videoId, deletedAt: '2026-01-01T00:00:00Z' }, now), { kind: 'deleted' });
    assert.deepEqual(claimDecision({ ...running(now + 5000), deletedAt: '2026-01-01T00:00:00Z' }, now), { kind: 'deleted' });
    assert.deepEqual(claimDecision({ videoId, status: 'done', outcome: processed(), deletedAt: '2026-01-01T00:00:00Z' }, now), { kind: 'deleted' });
  });
  test('an outcome that does not match the status is a corrupt item, not a guess', () => {
    assert.throws(() => claimDecision({ videoId, status: 'done', outcome: failed() }, now), /inconsistent/);
    assert.throws(() => claimDecision({ videoId, status: 'failed' }, now), /inconsistent/);
  });
});

describe('JobLedger on DynamoDB (moto)', () => {
  let aws: LocalAws & { prefix: string };
  let dynamo: DynamoDBClient;
  let table: string;
  let clock = Date.now();
  let ledger: JobLedger;
  const leaseMs = 30_000;

  before(async () => {
    aws = await startTestAws();
    table = (await bootstrapTopology({ region: 'us-east-1', endpoint: aws.endpoint, prefix: aws.prefix })).jobTable;
    dynamo = new DynamoDBClient(awsClientConfig({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: aws.endpoint }));
    // a controllable clock: lease expiry is tested by moving time, not by waiting for it
    ledger = new JobLedger(dynamo, { table, now: () => clock });
  });
  after(async () => {
    dynamo?.destroy();
    await aws?.stop();
  });

  test('of two concurrent claims exactly one wins; the other sees it running, with the lease left', async () => {
    const id = randomUUID();
    const results = await Promise.all([ledger.claim(id, 'a/1', leaseMs), ledger.claim(id, 'b/1', leaseMs)]);
    const winners = results.filter((r) => r.kind === 'claimed');
    assert.equal(winners.length, 1, JSON.stringify(results));
    const loser = results.find((r) => r.kind !== 'claimed')!;
    assert.equal(loser.kind, 'running-elsewhere');
    assert.ok(loser.kind === 'running-elsewhere' && loser.remainingMs > 0 && loser.remainingMs <= leaseMs);
    const item = await ledger.get(id);
    assert.equal(item?.status, 'running');
    // (not asserted: `attempts` is 1 on DynamoDB, but moto applies a losing racer's write too, see JobLedger.claim)
    assert.equal(item?.leaseOwner, winners[0]!.kind === 'claimed' ? winners[0]!.lease.owner : undefined);
  });

  test('many racing claims: still exactly one winner', async () => {
    const id = randomUUID();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => ledger.claim(id, `w${i}/1`, leaseMs)));
    const winners = results.filter((r) => r.kind === 'claimed');
    assert.equal(winners.length, 1);
    assert.equal((await ledger.get(id))?.leaseOwner, winners[0]!.kind === 'claimed' ? winners[0]!.lease.owner : undefined);
  });

  test('an expired lease can be claimed again, counting the attempt; the old holder has lost it', async () => {
    const id = randomUUID();
    const first = await ledger.claim(id, 'a/1', leaseMs);
    assert.equal(first.kind, 'claimed');
    clock += leaseMs - 1;
    assert.equal((await ledger.claim(id, 'b/1', leaseMs)).kind, 'running-elsewhere');
    clock += 1;
    const second = await ledger.claim(id, 'b/2', leaseMs);
    assert.deepEqual(second, { kind: 'claimed', lease: { videoId: id, owner: 'b/2', attempt: 2 } });
    if (first.kind !== 'claimed') return;
    assert.equal(await ledger.renew(first.lease, leaseMs), 'lost');
    assert.equal(await ledger.recordOutcome(first.lease, processed(id)), 'lost');
    assert.equal((await ledger.get(id))?.status, 'running', 'the old holder changed nothing');
  });

  test('renewal keeps the lease; release frees it at once', async () => {
    const id = randomUUID();
    const claim = await ledger.claim(id, 'a/1', leaseMs);
    assert.equal(claim.kind, 'claimed');
    if (claim.kind !== 'claimed') return;
    clock += leaseMs - 1000;
    assert.equal(await ledger.renew(claim.lease, leaseMs), 'held');
    clock += 2000; // past the first lease, within the renewed one
    assert.equal((await ledger.claim(id, 'b/1', leaseMs)).kind, 'running-elsewhere');
    assert.equal(await ledger.release(claim.lease), 'held');
    const next = await ledger.claim(id, 'b/2', leaseMs);
    assert.equal(next.kind === 'claimed' && next.lease.attempt, 2);
  });

  test('an outcome ends the job: later claims get the stored outcome back, and the item expires 30 days later', async () => {
    const id = randomUUID();
    const claim = await ledger.claim(id, 'a/1', leaseMs);
    if (claim.kind !== 'claimed') return assert.fail(claim.kind);
    const outcome = processed(id);
    assert.equal(await ledger.recordOutcome(claim.lease, outcome), 'held');
    assert.deepEqual(await ledger.claim(id, 'b/1', leaseMs), { kind: 'already-done', outcome });
    clock += 10 * leaseMs;
    assert.deepEqual(await ledger.claim(id, 'b/2', leaseMs), { kind: 'already-done', outcome }, 'no lease to expire once done');
    const item = await ledger.get(id);
    assert.equal(item?.leaseOwner, undefined);
    assert.equal(item?.attempts, 1);
    assert.equal(item?.expiresAt, Math.floor(clock / 1000) - 10 * (leaseMs / 1000) + ledgerRetentionDays * 86_400);

    const other = randomUUID();
    const c2 = await ledger.claim(other, 'a/1', leaseMs);
    if (c2.kind !== 'claimed') return assert.fail(c2.kind);
    const failure = failed(other);
    assert.equal(await ledger.recordOutcome(c2.lease, failure), 'held');
    assert.deepEqual(await ledger.claim(other, 'b/1', leaseMs), { kind: 'already-failed', outcome: failure });
  });

  test('the deletion mark: before an upload it blocks the claim; during a job it stops renewal and the outcome', async () => {
    const early = randomUUID();
    assert.equal(await ledger.markDeleted(early, '2026-01-01T00:00:00.000Z'), undefined, 'nothing was there before');
    assert.deepEqual(await ledger.claim(early, 'a/1', leaseMs), { kind: 'deleted' });

    const running = randomUUID();
    const claim = await ledger.claim(running, 'a/1', leaseMs);
    if (claim.kind !== 'claimed') return assert.fail(claim.kind);
    const before = await ledger.markDeleted(running, '2026-01-01T00:00:00.000Z');
    assert.equal(before?.status, 'running');
    assert.equal(await ledger.renew(claim.lease, leaseMs), 'deleted');
    assert.equal(await ledger.recordOutcome(claim.lease, processed(running)), 'deleted');
    assert.equal((await ledger.get(running))?.status, 'running', 'no outcome over a deletion');
    // idempotent: a second VideoDeleted keeps the first time
    await ledger.markDeleted(running, '2026-02-02T00:00:00.000Z');
    assert.equal((await ledger.get(running))?.deletedAt, '2026-01-01T00:00:00.000Z');
  });
});

import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { EventData } from '@anb/contracts';
import type { EventCause } from './events';

/**
 * The job ledger: one DynamoDB item per video, written only with conditional updates, so two workers
 * never encode the same video at once and a finished video is never encoded again.
 *
 *   (no item) ──claim──▶ running (lease: owner + expiry, attempts+1) ──record──▶ done | failed
 *                          │  ▲ renew (heartbeat)
 *                          └──┘ release / crash: the lease runs out, the next claim takes it over
 *
 * `deletedAt` is a mark beside the status, set by VideoDeleted at any point (even before the upload
 * arrives): a marked video is never claimed, a running job sees the mark at its next renewal, and an
 * outcome is not recorded over it. `expiresAt` (epoch seconds) lets DynamoDB's TTL drop old items.
 */

export type JobStatus = 'running' | 'done' | 'failed';

/** The final event of a job, kept so a later delivery re-announces exactly the same event. */
export type StoredOutcome =
  | { type: 'VideoProcessed'; attempt: number; data: EventData<'VideoProcessed'>; cause: EventCause }
  | { type: 'VideoProcessingFailed'; attempt: number; data: EventData<'VideoProcessingFailed'>; cause: EventCause };

export interface JobRecord {
  videoId: string;
  status?: JobStatus;
  /** claims so far: the current attempt's number while running */
  attempts?: number;
  leaseOwner?: string;
  /** epoch milliseconds */
  leaseExpiresAt?: number;
  startedAt?: string;
  outcome?: StoredOutcome;
  deletedAt?: string;
  updatedAt?: string;
  /** epoch seconds (DynamoDB TTL) */
  expiresAt?: number;
}

export interface Lease {
  videoId: string;
  owner: string;
  attempt: number;
}

export type ClaimResult =
  | { kind: 'claimed'; lease: Lease }
  | { kind: 'running-elsewhere'; owner: string; remainingMs: number; attempt: number }
  | { kind: 'already-done'; outcome: Extract<StoredOutcome, { type: 'VideoProcessed' }> }
  | { kind: 'already-failed'; outcome: Extract<StoredOutcome, { type: 'VideoProcessingFailed' }> }
  | { kind: 'deleted' };

/** Why a renewal or an outcome write did not happen. */
export type LeaseCheck = 'held' | 'deleted' | 'lost';

/** How long an item outlives its last write (a late duplicate within this time is still recognised). */
export const ledgerRetentionDays = 30;

/**
 * What a claim finds on an existing item — the pure rule that the conditional write below enforces.
 * `claimable` when nothing holds the video: no item, or a running job whose lease has run out.
 */
export function claimDecision(record: JobRecord | undefined, nowMs: number): Exclude<ClaimResult, { kind: 'claimed' }> | { kind: 'claimable' } {
  if (!record) return { kind: 'claimable' };
  if (record.deletedAt) return { kind: 'deleted' };
  switch (record.status) {
    case undefined:
      return { kind: 'claimable' };
    case 'done':
      if (record.outcome?.type !== 'VideoProcessed') throw new LedgerCorruptError(record.videoId, 'done without a VideoProcessed outcome');
      return { kind: 'already-done', outcome: record.outcome };
    case 'failed':
      if (record.outcome?.type !== 'VideoProcessingFailed') throw new LedgerCorruptError(record.videoId, 'failed without a failure outcome');
      return { kind: 'already-failed', outcome: record.outcome };
    case 'running': {
      const remainingMs = (record.leaseExpiresAt ?? 0) - nowMs;
      if (remainingMs <= 0) return { kind: 'claimable' };
      return { kind: 'running-elsewhere', owner: record.leaseOwner ?? '?', remainingMs, attempt: record.attempts ?? 0 };
    }
    default: {
      const never: never = record.status;
      throw new LedgerCorruptError(record.videoId, `unknown status ${String(never)}`);
    }
  }
}

export class LedgerCorruptError extends Error {
  constructor(videoId: string, problem: string) {
    super(`job ledger item of video ${videoId} is inconsistent: ${problem}`);
    this.name = 'LedgerCorruptError';
  }
}

export interface JobLedgerOptions {
  table: string;
  /** injectable for tests */
  now?: () => number;
}

export class JobLedger {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly now: () => number;

  constructor(dynamo: DynamoDBClient, options: JobLedgerOptions) {
    // the document client only translates; closing the DynamoDB client is its owner's job
    this.doc = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
    this.table = options.table;
    this.now = options.now ?? Date.now;
  }

  async get(videoId: string): Promise<JobRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: { videoId }, ConsistentRead: true }));
    return out.Item as JobRecord | undefined;
  }

  /**
   * Claims the video for `owner` for `leaseMs`, counting an attempt — or says why not. The condition is
   * `claimDecision`'s `claimable`, evaluated by DynamoDB atomically, so of two racing claims one wins.
   */
  async claim(videoId: string, owner: string, leaseMs: number): Promise<ClaimResult> {
    for (let round = 0; round < 3; round++) {
      const now = this.now();
      try {
        const out = await this.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { videoId },
            UpdateExpression:
              'SET #status = :running, leaseOwner = :owner, leaseExpiresAt = :leaseEnd, startedAt = if_not_exists(startedAt, :nowIso), ' +
              'updatedAt = :nowIso, expiresAt = :ttl ADD attempts :one',
            ConditionExpression:
              'attribute_not_exists(deletedAt) AND (attribute_not_exists(#status) OR (#status = :running AND leaseExpiresAt <= :now))',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: {
              ':running': 'running',
              ':owner': owner,
              ':leaseEnd': now + leaseMs,
              ':now': now,
              ':nowIso': new Date(now).toISOString(),
              ':ttl': ttl(now),
              ':one': 1,
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        const record = out.Attributes as JobRecord;
        // DynamoDB evaluates the condition and writes atomically, so this read changes nothing there. A
        // stock moto does not (the one the local stack starts is mended to): two racing claims can both
        // pass the condition and the last write wins. Reading back who holds the lease makes the loser
        // find out before it starts, whatever emulator AWS_ENDPOINT_URL points at.
        const holder = await this.get(videoId);
        if (holder?.leaseOwner !== owner || holder.status !== 'running') {
          const decision = claimDecision(holder, this.now());
          if (decision.kind !== 'claimable') return decision;
          continue;
        }
        return { kind: 'claimed', lease: { videoId, owner, attempt: record.attempts ?? 1 } };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      const decision = claimDecision(await this.get(videoId), this.now());
      // claimable here means the lease ran out between the write and the read: try the write again
      if (decision.kind !== 'claimable') return decision;
    }
    throw new Error(`could not claim video ${videoId}: its lease keeps changing hands`);
  }

  /** Extends the lease (the job's heartbeat); says when the video was deleted or the lease taken over. */
  async renew(lease: Lease, leaseMs: number): Promise<LeaseCheck> {
    const now = this.now();
    return this.whileHeld(lease, {
      UpdateExpression: 'SET leaseExpiresAt = :leaseEnd, updatedAt = :nowIso',
      ExpressionAttributeValues: { ':leaseEnd': now + leaseMs, ':nowIso': new Date(now).toISOString() },
    });
  }

  /** Gives the lease up at once (a transient failure or a shutdown): the next delivery can claim it. */
  async release(lease: Lease): Promise<LeaseCheck> {
    const now = this.now();
    return this.whileHeld(lease, {
      UpdateExpression: 'SET leaseExpiresAt = :leaseEnd, updatedAt = :nowIso',
      ExpressionAttributeValues: { ':leaseEnd': now, ':nowIso': new Date(now).toISOString() },
    });
  }

  /** Records the job's final event; only the lease holder can, and never over a deletion mark. */
  async recordOutcome(lease: Lease, outcome: StoredOutcome): Promise<LeaseCheck> {
    const now = this.now();
    return this.whileHeld(lease, {
      UpdateExpression: 'SET #status = :status, outcome = :outcome, updatedAt = :nowIso, expiresAt = :ttl REMOVE leaseOwner, leaseExpiresAt',
      ExpressionAttributeValues: {
        ':status': outcome.type === 'VideoProcessed' ? 'done' : 'failed',
        ':outcome': outcome,
        ':nowIso': new Date(now).toISOString(),
        ':ttl': ttl(now),
      },
    });
  }

  /**
   * Marks the video deleted (idempotent: the first time is kept) and returns the item as it was, so
   * the caller knows whether processing had produced anything.
   */
  async markDeleted(videoId: string, deletedAt: string): Promise<JobRecord | undefined> {
    const now = this.now();
    const out = await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { videoId },
        UpdateExpression: 'SET deletedAt = if_not_exists(deletedAt, :deletedAt), updatedAt = :nowIso, expiresAt = :ttl',
        ExpressionAttributeValues: { ':deletedAt': deletedAt, ':nowIso': new Date(now).toISOString(), ':ttl': ttl(now) },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return out.Attributes as JobRecord | undefined;
  }

  private async whileHeld(
    lease: Lease,
    update: { UpdateExpression: string; ExpressionAttributeValues: Record<string, unknown> },
  ): Promise<LeaseCheck> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { videoId: lease.videoId },
          UpdateExpression: update.UpdateExpression,
          ConditionExpression: 'leaseOwner = :owner AND #status = :running AND attribute_not_exists(deletedAt)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':owner': lease.owner, ':running': 'running' },
        }),
      );
      return 'held';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const record = await this.get(lease.videoId);
      return record?.deletedAt ? 'deleted' : 'lost';
    }
  }
}

function ttl(nowMs: number): number {
  return Math.floor(nowMs / 1000) + ledgerRetentionDays * 24 * 3600;
}

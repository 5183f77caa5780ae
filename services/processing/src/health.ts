import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import type { HealthCheck } from '@anb/platform';

/** A health probe must answer fast: each AWS call gets a short time limit of its own. */
const probeTimeoutMs = 1500;

export function videosBucketCheck(s3: S3Client, bucket: string): HealthCheck {
  return {
    name: 'videos-bucket',
    check: async () => void (await s3.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: AbortSignal.timeout(probeTimeoutMs) })),
  };
}

export function jobLedgerCheck(dynamo: DynamoDBClient, table: string): HealthCheck {
  return {
    name: 'job-ledger',
    async check() {
      const out = await dynamo.send(new DescribeTableCommand({ TableName: table }), { abortSignal: AbortSignal.timeout(probeTimeoutMs) });
      const status = out.Table?.TableStatus;
      if (status !== 'ACTIVE' && status !== 'UPDATING') throw new Error(`table ${table} is ${status ?? 'unknown'}`);
    },
  };
}

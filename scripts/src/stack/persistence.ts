import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { DynamoDBClient, PutItemCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { TopologyResources } from '@anb/infra';
import pg from 'pg';

/**
 * moto keeps everything in memory, but `npm start` promises that a second start reuses the data. So a
 * clean stop copies the bucket and the job ledger into .data/aws, and the next start puts them back.
 * Queued messages cannot be copied; instead every store's relay starts again from the beginning, and
 * the consumers' inboxes (and processing's ledger) absorb what they had already seen — so an event
 * that was still queued when the stack stopped is delivered after all.
 */
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const schemas = ['auth', 'catalog', 'voting'];

export async function snapshotLocalAws(endpoint: string, resources: TopologyResources, dir: string): Promise<{ objects: number; items: number }> {
  const s3 = new S3Client({ region: 'us-east-1', endpoint, credentials, forcePathStyle: true });
  const dynamo = new DynamoDBClient({ region: 'us-east-1', endpoint, credentials });
  const next = `${dir}.next`;
  rmSync(next, { recursive: true, force: true });
  try {
    let objects = 0;
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: resources.bucket, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        const target = join(next, 's3', object.Key!);
        mkdirSync(dirname(target), { recursive: true });
        const body = (await s3.send(new GetObjectCommand({ Bucket: resources.bucket, Key: object.Key! }))).Body as Readable;
        await pipeline(body, createWriteStream(target));
        objects++;
      }
      token = page.NextContinuationToken;
    } while (token);
    const items: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await dynamo.send(new ScanCommand({ TableName: resources.jobTable, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    mkdirSync(next, { recursive: true });
    writeFileSync(join(next, 'job-ledger.json'), JSON.stringify(items));
    writeFileSync(join(next, 'snapshot.json'), JSON.stringify({ at: new Date().toISOString(), objects, items: items.length }));
    // replace the previous snapshot only once this one is complete
    rmSync(dir, { recursive: true, force: true });
    (await import('node:fs')).renameSync(next, dir);
    return { objects, items: items.length };
  } finally {
    s3.destroy();
    dynamo.destroy();
  }
}

export async function restoreLocalAws(endpoint: string, resources: TopologyResources, dir: string, databaseUrl: string): Promise<{ objects: number; items: number } | undefined> {
  if (!existsSync(join(dir, 'snapshot.json'))) return undefined;
  const s3 = new S3Client({ region: 'us-east-1', endpoint, credentials, forcePathStyle: true });
  const dynamo = new DynamoDBClient({ region: 'us-east-1', endpoint, credentials });
  try {
    let objects = 0;
    const root = join(dir, 's3');
    const walk = async (folder: string): Promise<void> => {
      if (!existsSync(folder)) return;
      for (const entry of readdirSync(folder)) {
        const path = join(folder, entry);
        if (statSync(path).isDirectory()) await walk(path);
        else {
          await s3.send(
            new PutObjectCommand({ Bucket: resources.bucket, Key: relative(root, path), Body: createReadStream(path), ContentLength: statSync(path).size }),
          );
          objects++;
        }
      }
    };
    await walk(root);
    const items = JSON.parse(readFileSync(join(dir, 'job-ledger.json'), 'utf8')) as Record<string, AttributeValue>[];
    for (const item of items) await dynamo.send(new PutItemCommand({ TableName: resources.jobTable, Item: item }));
    await replayRelays(databaseUrl);
    return { objects, items: items.length };
  } finally {
    s3.destroy();
    dynamo.destroy();
  }
}

/** Every store's relay starts over: its events reach the (new, empty) queues again. */
async function replayRelays(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const schema of schemas) {
      const exists = await client.query('select to_regclass($1) as t', [`${schema}.relay_checkpoints`]);
      if (exists.rows[0]?.t) await client.query(`delete from "${schema}".relay_checkpoints where name = 'sns'`);
    }
  } finally {
    await client.end();
  }
}

/**
 * Creates the topology (topics, queues + DLQs, subscriptions with filters, bucket, job table) on the AWS
 * endpoint of the environment — LocalStack in docker-compose, any moto — from contracts/src/topology.ts.
 * Idempotent. Prints the resources.
 *
 *   AWS_ENDPOINT_URL=http://localhost:4566 RESOURCE_PREFIX=anb-local node --import tsx scripts/src/bootstrap-aws.ts
 */
import { bootstrapTopology } from '@anb/infra';
import { waitFor } from '@anb/platform/local';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const endpoint = process.env.AWS_ENDPOINT_URL || undefined;
const region = process.env.AWS_REGION ?? 'us-east-1';
const prefix = process.env.RESOURCE_PREFIX ?? 'anb-local';

// the emulator may still be starting when compose runs us
const resources = await waitFor(
  () => bootstrapTopology({ region, prefix, ...(endpoint ? { endpoint } : {}) }),
  { timeoutMs: 120_000, intervalMs: 2000, message: `the AWS endpoint ${endpoint ?? '(default)'} did not accept the topology` },
);
console.log(JSON.stringify(resources, null, 2));

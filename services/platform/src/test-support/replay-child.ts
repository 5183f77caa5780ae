/**
 * A replay that hangs in the middle of its second batch (a transaction open on the new table), so a
 * test can kill it with SIGKILL exactly there. Usage: replay-child.ts <databaseUrl> <schema> <name> <inline|subscriber>
 */
import { createDatabase } from '../db';
import { replayProjection } from '../projections/replay';
import { tallyProjection } from './projections';

const [databaseUrl, schema, name, feed] = process.argv.slice(2) as [string, string, string, 'inline' | 'subscriber'];
const db = createDatabase({ url: databaseUrl });
const base = tallyProjection(schema, { name, storeFeed: feed });
let batches = 0;
await replayProjection({
  db,
  databaseUrl,
  batchSize: 50,
  projection: {
    ...base,
    async apply(trx, table, events) {
      await base.apply(trx, table, events);
      if (!table.endsWith('_v1') && ++batches === 2) {
        process.stdout.write('HANGING\n');
        await new Promise(() => {});
      }
    },
  },
});

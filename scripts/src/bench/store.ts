/**
 * `npm run bench:store` — the event store's append path alone: single-event appends to new streams (a
 * vote is one) from N concurrent writers in this process, against a real embedded PostgreSQL. Prints
 * appends/s and the CPU each append costs this process and PostgreSQL, per concurrency, so a change to
 * the group commit can be judged without the noise of the whole stack. Nothing about time is asserted.
 *
 *   BENCH_SECONDS=4 BENCH_CONCURRENCY=3,10,50 npm run bench:store
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { EventStore, createDatabase, eventStoreMigrations, migrate } from '@anb/platform';
import { startEmbeddedPostgres } from '@anb/platform/local';
import { cpuMeter } from './cpu';
import { stopOnSignals } from './support';

const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const levels = (process.env.BENCH_CONCURRENCY ?? '3,10,50').split(',').map(Number);
const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

// commits durable as on RDS (a throwaway PostgreSQL runs with fsync off otherwise)
const server = await startEmbeddedPostgres({ flags: ['-c', 'fsync=on'] });
stopOnSignals(() => server.stop());
const db = createDatabase({ url: server.url, poolMax: 10 });
try {
  await db.raw('create schema if not exists bench');
  await migrate(db, 'bench', eventStoreMigrations('bench'));
  const store = new EventStore(db, 'bench');
  const append = () =>
    store.append(
      `vote:${randomUUID()}:${randomUUID()}`,
      [{ type: 'VoteCast', data: { voteId: randomUUID(), videoId: randomUUID(), voterId: randomUUID(), ownerId: randomUUID(), castAt: new Date().toISOString() } }],
      { expectedVersion: 'no_stream' },
    );
  const run = async (concurrency: number, ms: number) => {
    let appends = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() - started < ms) {
          await append();
          appends++;
        }
      }),
    );
    return { appends, seconds: (performance.now() - started) / 1000 };
  };
  await run(10, 1000); // warm-up
  const lines: string[] = [];
  for (const concurrency of levels) {
    const meter = cpuMeter();
    const { appends, seconds: took } = await run(concurrency, seconds * 1000);
    const used = meter.stop();
    const per = (role: 'load generator' | 'postgres') => fmt(((used.get(role) ?? 0) / appends) * 1e6);
    lines.push(
      `${String(concurrency).padStart(4)} writers  ${fmt(appends / took).padStart(6)} appends/s   this process ${per('load generator').padStart(4)} µs · PostgreSQL ${per('postgres').padStart(4)} µs per append`,
    );
  }
  console.log(`\nbench:store — ${new Date().toISOString()} — ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n${lines.join('\n')}`);
} finally {
  await db.destroy();
  await server.stop();
}

/**
 * `npm run bench:votes:ab` — two variants of the vote path compared in paired rounds on one running
 * stack, for changes too small to see between two `bench:votes` runs on a shared machine (there,
 * req/s moves by half and CPU per vote by a fifth from one run to the next).
 *
 * A variant is environment and node flags for some services (`BENCH_A`, `BENCH_B`: `KEY=value …` and
 * `--flag=value …`, empty = as shipped; `BENCH_AB_SERVICES`, default voting,gateway): a setting, a
 * runtime flag (V8's heap sizes, say), or a code path a change puts behind a variable while it is
 * being judged. The rounds go A B B A A B … on the same stack, the services
 * restarted with the round's variant when it changes and warmed up again (JIT, pools) before the
 * round counts. A round is `BENCH_ROUND_VOTERS` fresh voters × every video through the gateway at 50
 * connections, counted from the first vote until the relay has published them all and the
 * projections have applied them, so work a variant defers is counted too. Printed: each round, then
 * per variant the CPU per vote by process, and the paired differences B − A (mean, range, how many
 * pairs B was lower) — the figure to judge by. Nothing about time is asserted.
 *
 * `BENCH_AB_LOAD=reads` judges the signed-in showcase instead: a round is `BENCH_ROUND_SECONDS` (4) of
 * GET /api/public/videos by 400 signed-in readers (each has voted for some videos, so `voted_by_me`
 * varies), the same readers every round; printed per request.
 *
 *   BENCH_A='' BENCH_B='RELAY_SNS_PIPELINING=1' BENCH_ROUNDS=12 npm run bench:votes:ab
 */
import { createPrivateKey } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { createDatabase } from '@anb/platform';
import { waitFor } from '@anb/platform/local';
import { startStack, type StackService } from '../stack/stack';
import { cpuMeter, cpuPerRequest, type CpuRole } from './cpu';
import { runLoad } from './load';
import { authKeyPem, mintAccessTokens, publishVideos, shuffledPairs, signupOwner, stopOnSignals, voteBenchStack, voteRequest } from './support';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface Variant {
  readonly env: Record<string, string>;
  readonly nodeArgs: readonly string[];
}

/** `KEY=value --flag=value …` → an environment and node flags (values without spaces); anything else is refused. */
export function parseVariant(text: string | undefined): Variant {
  const env: Record<string, string> = {};
  const nodeArgs: string[] = [];
  for (const word of (text ?? '').split(/\s+/).filter(Boolean)) {
    if (/^--[a-z][a-z0-9-]*(=\S*)?$/.test(word)) {
      nodeArgs.push(word);
      continue;
    }
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(word);
    if (!match) throw new Error(`not KEY=value or --flag: ${JSON.stringify(word)}`);
    env[match[1]!] = match[2]!;
  }
  return { env, nodeArgs };
}

/** A B B A A B B A …: each variant as often first as second in a pair, so a drift over the run cancels. */
export function abbaOrder(rounds: number): ('A' | 'B')[] {
  return Array.from({ length: rounds }, (_, i) => (Math.floor((i + 1) / 2) % 2 === 0 ? 'A' : 'B'));
}

/** mean, lowest and highest of B − A over the pairs (round 2k against round 2k+1, whichever ran first) */
export function pairedDifferences(a: readonly number[], b: readonly number[]): { mean: number; min: number; max: number; bLower: number; pairs: number } {
  const pairs = Math.min(a.length, b.length);
  const diffs = Array.from({ length: pairs }, (_, i) => b[i]! - a[i]!);
  return {
    mean: diffs.reduce((s, d) => s + d, 0) / Math.max(1, pairs),
    min: Math.min(...diffs),
    max: Math.max(...diffs),
    bLower: diffs.filter((d) => d < 0).length,
    pairs,
  };
}

async function main() {
  const variants = { A: parseVariant(process.env.BENCH_A), B: parseVariant(process.env.BENCH_B) };
  const services = (process.env.BENCH_AB_SERVICES ?? 'voting,gateway').split(',').filter(Boolean) as StackService[];
  const rounds = Number(process.env.BENCH_ROUNDS ?? 12);
  // 400 voters × 20 videos (~4 s of votes): a shorter round is mostly its start — every voter's first
  // vote, whose token the gateway checks then — and judged a change by that (150 voters: +261 votes/s
  // for the relay on its own thread, 16 rounds; 400: −17, with +110 µs of CPU per vote, 12 rounds)
  const roundVoters = Number(process.env.BENCH_ROUND_VOTERS ?? 400);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
  const videoCount = 20;
  const reads = process.env.BENCH_AB_LOAD === 'reads';
  if (!reads && (process.env.BENCH_AB_LOAD ?? 'votes') !== 'votes') throw new Error(`BENCH_AB_LOAD is votes or reads, not ${process.env.BENCH_AB_LOAD}`);
  const roundMs = Number(process.env.BENCH_ROUND_SECONDS ?? 4) * 1000;
  const unit = reads ? 'request' : 'vote';
  const log = (line: string) => process.stderr.write(`${line}\n`);
  // (no "-0": a difference that rounds to nothing is 0)
  const fmt = (n: number, digits = 0) => (Math.abs(n) < 0.5 / 10 ** digits ? 0 : n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const signed = (n: number, digits = 0) => `${Math.abs(n) < 0.5 / 10 ** digits ? '±' : n > 0 ? '+' : ''}${fmt(n, digits)}`;
  const describe = (variant: Variant) => [...Object.entries(variant.env).map(([k, v]) => `${k}=${v}`), ...variant.nodeArgs].join(' ') || '(as shipped)';

  log(`bench:votes:ab — ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${connections} connections`);
  const roundName = reads ? `${fmt(roundMs / 1000)} s of signed-in showcase reads` : `${fmt(roundVoters * videoCount)} votes`;
  log(`   A: ${describe(variants.A)}\n   B: ${describe(variants.B)}\n   on ${services.join(', ')}; ${rounds} rounds of ${roundName}`);
  const pem = authKeyPem();
  const signingKey = createPrivateKey(pem);
  const stack = await startStack(voteBenchStack(pem, process.env.BENCH_TELEMETRY === '1'));
  stopOnSignals(() => stack.stop());
  const db = createDatabase({ url: stack.databaseUrl, poolMax: 1 });
  try {
    const gateway = stack.gatewayUrl;
    const owners = await Promise.all([0, 1, 2].map((i) => signupOwner(gateway, i)));
    const videos = await publishVideos(stack, owners, videoCount);
    /** every vote published by the relay and applied by every projection (index lookups, not counts) */
    const settled = () =>
      waitFor(
        async () => {
          const { rows } = (await db.raw(
            `select not exists (select 1 from voting.events e, voting.relay_checkpoints c
                                 where c.name = 'sns' and (e.transaction_id, e.position) > (c.transaction_id, c.position))
                and not exists (select 1 from voting.events e, voting.projection_checkpoints p
                                 where (e.transaction_id, e.position) > (p.transaction_id, p.position)) as settled`,
          )) as { rows: { settled: boolean }[] };
          return rows[0]!.settled;
        },
        { timeoutMs: 120_000, intervalMs: 10, message: 'the relay and the projections catch up' },
      );
    const vote = async (voters: number) => {
      const tokens = await mintAccessTokens(signingKey, voters);
      const pairs = shuffledPairs(tokens.length, videos.length);
      return runLoad({
        baseUrl: gateway,
        connections,
        next: (i) => {
          const pair = pairs.at(i);
          return pair ? voteRequest(videos[pair.video]!, tokens[pair.voter]!) : undefined;
        },
      });
    };

    // the readers of BENCH_AB_LOAD=reads: each has voted for 1–5 of the videos
    const readers = reads ? await mintAccessTokens(signingKey, 400) : [];
    if (reads) {
      const ballots = readers.flatMap((token, r) => Array.from({ length: 1 + (r % 5) }, (_, k) => voteRequest(videos[(r + k * 3) % videos.length]!, token)));
      await runLoad({ baseUrl: gateway, connections, next: (i) => ballots[i] });
      await settled();
    }
    const read = (durationMs: number) =>
      runLoad({ baseUrl: gateway, connections, durationMs, next: (i) => ({ path: '/api/public/videos', headers: { authorization: `Bearer ${readers[i % readers.length]}` } }) });
    const measured = async () => {
      if (reads) return read(roundMs);
      const load = await vote(roundVoters);
      await settled();
      return load;
    };

    let running: 'A' | 'B' | undefined;
    type Round = { perVote: Map<CpuRole, number>; total: number; perSecond: number; p99: number };
    const results: Record<'A' | 'B', Round[]> = { A: [], B: [] };
    for (const [i, variant] of abbaOrder(rounds).entries()) {
      if (variant !== running) {
        for (const service of services) await stack.restart(service, variants[variant].env, variants[variant].nodeArgs);
        running = variant;
        // warm the new processes on work not counted
        if (reads) await read(roundMs / 2);
        else {
          await vote(Math.ceil(roundVoters / 2));
          await settled();
        }
      }
      const meter = cpuMeter();
      const load = await measured();
      const used = meter.stop();
      const ok = load.statuses[200] ?? 0;
      if (ok !== load.requests) throw new Error(`round ${i + 1}: not every ${unit} was answered 200: ${JSON.stringify(load.statuses)}, ${load.failures} failures`);
      const perVote = new Map([...used].map(([role, seconds]) => [role, (seconds / ok) * 1e6] as const));
      const total = cpuPerRequest(used, ok) * 1e6;
      results[variant].push({ perVote, total, perSecond: load.perSecond, p99: load.p99 });
      log(
        `round ${String(i + 1).padStart(2)} ${variant}  ${fmt(load.perSecond).padStart(6)} ${unit}s/s  p99 ${fmt(load.p99, 1).padStart(6)} ms  ${fmt(total).padStart(6)} µs of CPU per ${unit}: ` +
          [...perVote].sort((x, y) => y[1] - x[1]).map(([role, us]) => `${role} ${fmt(us)}`).join(' · '),
      );
    }

    const roles = [...new Set([...results.A, ...results.B].flatMap((r) => [...r.perVote.keys()]))];
    const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
    const lines = [`\nbench:votes:ab — ${new Date().toISOString()} — ${rounds} rounds of ${roundName}, ${connections} connections`];
    lines.push(`  A: ${describe(variants.A)}`, `  B: ${describe(variants.B)}`);
    lines.push(`  ${`µs of CPU per ${unit}`.padEnd(20)} ${'A'.padStart(8)} ${'B'.padStart(8)}   B − A, paired: mean [range], pairs where B is lower`);
    const row = (name: string, a: number[], b: number[], digits = 0) => {
      const d = pairedDifferences(a, b);
      return `  ${name.padEnd(20)} ${fmt(mean(a), digits).padStart(8)} ${fmt(mean(b), digits).padStart(8)}   ${signed(d.mean, digits)} [${fmt(d.min, digits)} … ${fmt(d.max, digits)}], ${d.bLower} of ${d.pairs}`;
    };
    lines.push(row('all processes', results.A.map((r) => r.total), results.B.map((r) => r.total)));
    for (const role of roles) lines.push(row(role, results.A.map((r) => r.perVote.get(role) ?? 0), results.B.map((r) => r.perVote.get(role) ?? 0)));
    lines.push(row(`${unit}s/s`, results.A.map((r) => r.perSecond), results.B.map((r) => r.perSecond)));
    lines.push(row('p99 ms', results.A.map((r) => r.p99), results.B.map((r) => r.p99), 1));
    console.log(lines.join('\n'));
  } finally {
    await db.destroy();
    await stack.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();

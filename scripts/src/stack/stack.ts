import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootstrapTopology, serviceEnvironment, type TopologyResources } from '@anb/infra';
import type { ServiceName } from '@anb/contracts';
import { defaultRelayParallelBatches } from '@anb/platform';
import { ensureDatabase, freePort, startEmbeddedPostgres, startMoto, waitFor, type LocalAws, type LocalPostgres } from '@anb/platform/local';
import { lineFormatter, onLines, type LogMode } from './logs';
import { restoreLocalAws, snapshotLocalAws } from './persistence';

export const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

/** The services the stack runs, in start order (the gateway last: it routes to the others). */
export const stackServices = ['auth', 'video-catalog', 'voting', 'processing', 'gateway'] as const satisfies readonly ServiceName[];
export type StackService = (typeof stackServices)[number];

const parentWatch = join(repoRoot, 'scripts', 'src', 'stack', 'parentWatch.ts');
const entryOf = (service: StackService) => join(repoRoot, 'services', service, 'src', 'main.ts');

/** The services that have an entry point in this checkout. */
export function availableServices(): StackService[] {
  return stackServices.filter((s) => existsSync(entryOf(s)));
}

export interface StackOptions {
  /** keeps Postgres data and the JWT key here between runs; a temporary folder when omitted */
  dataDir?: string;
  /** an existing PostgreSQL server/database instead of the embedded one */
  databaseUrl?: string;
  /** an existing local AWS (moto/LocalStack) instead of starting moto_server */
  awsEndpoint?: string;
  prefix?: string;
  gatewayPort?: number;
  motoPort?: number;
  /** extra settings for the embedded PostgreSQL (see startEmbeddedPostgres) */
  postgresFlags?: readonly string[];
  /** run moto only on CPU the services leave idle (see startMoto) */
  motoIdlePriority?: boolean;
  /** which services to run (default: all) */
  services?: readonly StackService[];
  logs?: LogMode | ((service: string, line: string) => void);
  /** extra environment for every service, or per service */
  env?: Record<string, string>;
  serviceEnv?: Partial<Record<StackService, Record<string, string>>>;
  /** extra node flags per service (e.g. `--cpu-prof`, which NODE_OPTIONS does not accept) */
  nodeArgs?: Partial<Record<StackService, string[]>>;
  /** how long each service may take to answer /health */
  readyTimeoutMs?: number;
  /** where local spans.jsonl / metrics.jsonl go (default: <dataDir>/telemetry, or a temporary folder) */
  telemetryDir?: string;
  /** aborts a start in progress (Ctrl-C while starting): everything started so far is stopped */
  signal?: AbortSignal;
}

export class StartAborted extends Error {
  constructor() {
    super('start aborted');
    this.name = 'StartAborted';
  }
}

export interface RunningStack {
  readonly gatewayUrl: string;
  readonly urls: Record<StackService, string>;
  readonly databaseUrl: string;
  readonly awsEndpoint: string;
  readonly resources: TopologyResources;
  readonly embeddedPostgres: boolean;
  /** the local trace and metric files (spans.jsonl, metrics.jsonl) */
  readonly telemetryDir: string;
  /** the service processes (for tests that kill or restart one) */
  readonly processes: Map<StackService, ChildProcess>;
  /** restarts one service with the same settings (after a crash test, say), plus any extra environment and node flags */
  restart(service: StackService, extraEnv?: Record<string, string>, extraNodeArgs?: readonly string[]): Promise<void>;
  kill(service: StackService, signal?: NodeJS.Signals): Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * The whole platform on one machine: a real PostgreSQL (embedded unless a URL is given), moto as the
 * local AWS, the topology created from the contracts, every service as its own Node process, the
 * gateway in front. Used by `npm start` and by the end-to-end tests alike.
 */
export async function startStack(options: StackOptions = {}): Promise<RunningStack> {
  const services = options.services ?? availableServices();
  const logSink = typeof options.logs === 'function' ? options.logs : undefined;
  const logMode: LogMode = typeof options.logs === 'string' ? options.logs : 'silent';
  const width = Math.max(...[...services, 'postgres', 'moto'].map((s) => s.length));
  const print = (name: string, index: number) => {
    const format = lineFormatter(name, index, logMode, width);
    return (line: string) => {
      if (logSink) return logSink(name, line);
      const out = format(line);
      if (out !== undefined) process.stdout.write(out + '\n');
    };
  };
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    stops.length = 0;
  };

  const checkAbort = () => {
    if (options.signal?.aborted) throw new StartAborted();
  };
  try {
    // PostgreSQL and moto start side by side
    const [pgStarted, awsStarted] = await Promise.allSettled([
      options.databaseUrl
        ? Promise.resolve(undefined)
        : startEmbeddedPostgres({
            ...(options.dataDir ? { dataDir: join(options.dataDir, 'postgres') } : {}),
            ...(options.postgresFlags ? { flags: options.postgresFlags } : {}),
            onLog: () => {},
          }),
      options.awsEndpoint ? Promise.resolve(undefined) : startMoto({ ...(options.motoPort ? { port: options.motoPort } : {}), ...(options.motoIdlePriority ? { idlePriority: true } : {}), onLog: () => {} }),
    ]);
    const postgres: LocalPostgres | undefined = pgStarted.status === 'fulfilled' ? pgStarted.value : undefined;
    const aws: LocalAws | undefined = awsStarted.status === 'fulfilled' ? awsStarted.value : undefined;
    if (postgres) stops.push(() => postgres.stop());
    if (aws) stops.push(() => aws.stop());
    if (pgStarted.status === 'rejected') throw pgStarted.reason;
    if (awsStarted.status === 'rejected') throw awsStarted.reason;
    const databaseUrl = options.databaseUrl ?? (await ensureDatabase(postgres!.url, 'anb'));
    const awsEndpoint = options.awsEndpoint ?? aws!.endpoint;

    checkAbort();
    const prefix = options.prefix ?? 'anb-local';
    const region = 'us-east-1';
    const resources = await bootstrapTopology({ region, endpoint: awsEndpoint, prefix });
    // our own moto starts empty: put back what the last clean stop saved, and stop with a new snapshot
    const awsSnapshot = options.dataDir && aws ? join(options.dataDir, 'aws') : undefined;
    if (awsSnapshot) {
      const restored = await restoreLocalAws(awsEndpoint, resources, awsSnapshot, databaseUrl);
      if (restored) print('moto', 0)(`restored ${restored.objects} stored files and ${restored.items} processing jobs from ${awsSnapshot}; events are being delivered again`);
      const stopMoto = stops.pop()!;
      stops.push(async () => {
        try {
          const saved = await snapshotLocalAws(awsEndpoint!, resources, awsSnapshot);
          print('moto', 0)(`saved ${saved.objects} stored files and ${saved.items} processing jobs to ${awsSnapshot}`);
        } catch (error) {
          print('moto', 0)(`could not save the local AWS state: ${(error as Error).message}`);
        }
        await stopMoto();
      });
    }

    const keyFile = options.dataDir ? join(options.dataDir, 'keys', 'jwt-signing-key.pem') : undefined;
    if (options.dataDir) mkdirSync(join(options.dataDir, 'keys'), { recursive: true });
    const ports: Record<StackService, number> = {
      auth: await freePort(),
      'video-catalog': await freePort(),
      voting: await freePort(),
      processing: await freePort(),
      gateway: options.gatewayPort ?? (await freePort()),
    };
    const urls = Object.fromEntries(Object.entries(ports).map(([s, p]) => [s, `http://127.0.0.1:${p}`])) as Record<StackService, string>;
    const runId = `${process.pid}-${Date.now()}`;
    const tmpKeyDir = keyFile ? undefined : join(repoRoot, '.tmp', `keys-${runId}`);
    const telemetryDir = options.telemetryDir ?? (options.dataDir ? join(options.dataDir, 'telemetry') : join(repoRoot, '.tmp', `telemetry-${runId}`));

    const environment = (service: StackService): NodeJS.ProcessEnv => ({
      ...process.env,
      NODE_ENV: process.env.NODE_ENV ?? 'development',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      OTEL_SERVICE_NAME: service,
      ANB_TELEMETRY_DIR: telemetryDir,
      HOST: '127.0.0.1',
      PORT: String(ports[service]),
      AWS_REGION: region,
      AWS_ENDPOINT_URL: awsEndpoint,
      DATABASE_URL: databaseUrl,
      // its own moto_server: the relay's calls pipelined on one connection (one moto thread, no GIL contention)
      ...(aws ? { RELAY_SNS_PIPELINING: process.env.RELAY_SNS_PIPELINING ?? String(defaultRelayParallelBatches) } : {}),
      ...serviceEnvironment(service, resources),
      ...(service === 'auth' ? { AUTH_JWT_KEY_FILE: keyFile ?? join(tmpKeyDir!, 'jwt-signing-key.pem') } : {}),
      ...(service === 'gateway'
        ? { AUTH_URL: urls.auth, CATALOG_URL: urls['video-catalog'], VOTING_URL: urls.voting }
        : {}),
      ...options.env,
      ...options.serviceEnv?.[service],
    });

    const processes = new Map<StackService, ChildProcess>();
    const spawnService = (service: StackService, extraEnv: Record<string, string> = {}, extraNodeArgs: readonly string[] = []) => {
      const child = spawn(process.execPath, [...(options.nodeArgs?.[service] ?? []), ...extraNodeArgs, '--import', 'tsx', '--import', parentWatch, '--import', '@anb/observability/register', entryOf(service)], {
        cwd: repoRoot,
        env: { ...environment(service), ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const index = stackServices.indexOf(service);
      onLines(child.stdout!, print(service, index));
      onLines(child.stderr!, print(service, index));
      processes.set(service, child);
      return child;
    };
    const waitReady = async (service: StackService) => {
      const child = processes.get(service)!;
      await waitFor(
        async () => {
          const res = await fetch(`${urls[service]}/health`, { signal: AbortSignal.timeout(2000) });
          // the gateway is ready when it answers; its health also reports the services behind it
          return res.status === 200 || (service === 'gateway' && res.status === 503);
        },
        {
          timeoutMs: options.readyTimeoutMs ?? 60_000,
          intervalMs: 100,
          message: `${service} did not become healthy`,
          giveUp: () =>
            options.signal?.aborted
              ? new StartAborted()
              : child.exitCode !== null || child.signalCode !== null
                ? new Error(`${service} exited (${child.signalCode ?? `code ${child.exitCode}`}) while starting; its log above says why`)
                : undefined,
        },
      );
    };
    const stopProcess = async (service: StackService, signal: NodeJS.Signals = 'SIGTERM') => {
      const child = processes.get(service);
      if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 9000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    };
    stops.push(async () => {
      await Promise.all([...processes.keys()].map((s) => stopProcess(s)));
    });

    checkAbort();
    // all at once: the gateway needs only the services' addresses, which are known already
    for (const service of services) spawnService(service);
    await Promise.all(services.map(waitReady));

    return {
      gatewayUrl: urls.gateway,
      urls,
      databaseUrl,
      awsEndpoint,
      resources,
      embeddedPostgres: postgres !== undefined,
      telemetryDir,
      processes,
      async restart(service, extraEnv, extraNodeArgs) {
        await stopProcess(service);
        spawnService(service, extraEnv, extraNodeArgs);
        await waitReady(service);
      },
      kill: stopProcess,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

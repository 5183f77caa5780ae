import type { ServiceName } from '@anb/contracts';

/**
 * Node flags every service runs with, wherever it runs (the ECS task command, docker-compose, the
 * local stack of `npm start`, tests and benchmarks).
 *
 * `--single-threaded-gc`: V8 collects garbage on the service's own thread instead of handing parts of
 * each collection to helper threads and waiting for them. A task gets a quarter to a whole vCPU, and
 * the local stack shares two cores among six processes: the helpers rarely find a free core, so the
 * service sat waiting for them. Measured in bench:votes (8,000 votes through the gateway, the GC pauses
 * of each process while it served them): voting 239–253 ms of pauses in all, the longest 21–22 ms,
 * against 93 ms and 8 ms with the flag; the gateway 105–134 ms (longest 16–22) against 53 ms (6).
 * (V8 flags are not accepted in NODE_OPTIONS, so they are on the command line.)
 */
export const serviceNodeFlags = ['--single-threaded-gc'] as const;

/** The command that runs one service from the image (WORKDIR /app) or a checkout. */
export function serviceCommand(service: ServiceName): string[] {
  return ['node', ...serviceNodeFlags, '--import', 'tsx', '--import', './observability/src/register.ts', `services/${service}/src/main.ts`];
}

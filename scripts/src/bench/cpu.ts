import { readdirSync, readFileSync } from 'node:fs';

/** Who spends the machine's CPU during a benchmark: every process on it, grouped by role. */
export type CpuRole = 'gateway' | 'auth' | 'voting' | 'video-catalog' | 'processing' | 'postgres' | 'moto' | 'bare Koa' | 'load generator' | 'other';

const roleOf = (pid: number, cmdline: string): CpuRole => {
  if (pid === process.pid) return 'load generator';
  const service = /services\/(gateway|auth|voting|video-catalog|processing)\/src\/main\.ts/.exec(cmdline);
  if (service) return service[1] as CpuRole;
  if (cmdline.includes('bench/hello.ts')) return 'bare Koa';
  if (/(^|\/)postgres(\s|$)|postgres:/.test(cmdline)) return 'postgres';
  if (cmdline.includes('moto_server')) return 'moto';
  return 'other';
};

/** CPU time (user + system) a process has used so far, in seconds (Linux /proc; clock ticks of 1/100 s). */
export function cpuSecondsOf(pid: number): number {
  return cpuOf(pid).seconds;
}

/** CPU time so far: all of it, and the part spent in the kernel (system calls: sockets, the network stack, fsync…). */
function cpuOf(pid: number): { seconds: number; kernelSeconds: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { seconds: (Number(fields[11]) + Number(fields[12])) / 100, kernelSeconds: Number(fields[12]) / 100 };
}

/** CPU seconds (user + system, and system alone) per pid, with its role; empty where /proc is not there. */
function sample(): Map<number, { role: CpuRole; seconds: number; kernelSeconds: number }> {
  const out = new Map<number, { role: CpuRole; seconds: number; kernelSeconds: number }>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return out;
  }
  for (const name of pids) {
    try {
      const pid = Number(name);
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      out.set(pid, { role: roleOf(pid, cmdline), ...cpuOf(pid) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU seconds a role used, and how many of them in the kernel */
export type CpuUse = Map<CpuRole, number> & { kernel: Map<CpuRole, number> };

/** Starts counting; `stop()` gives the CPU seconds each role used since (processes born meanwhile count whole). */
export function cpuMeter(): { stop(): CpuUse } {
  const before = sample();
  return {
    stop() {
      const used = Object.assign(new Map<CpuRole, number>(), { kernel: new Map<CpuRole, number>() });
      for (const [pid, now] of sample()) {
        const delta = now.seconds - (before.get(pid)?.seconds ?? 0);
        if (delta <= 0) continue;
        used.set(now.role, (used.get(now.role) ?? 0) + delta);
        const kernel = now.kernelSeconds - (before.get(pid)?.kernelSeconds ?? 0);
        used.kernel.set(now.role, (used.kernel.get(now.role) ?? 0) + Math.max(0, kernel));
      }
      return used;
    },
  };
}

/** "gateway 285 µs · voting 410 µs · …" per request, biggest first; with `kernel`, each one's share spent in the kernel */
export function perRequest(used: Map<CpuRole, number> | CpuUse, requests: number): string {
  const kernel = 'kernel' in used ? used.kernel : undefined;
  return [...used]
    .filter(([, seconds]) => seconds / requests >= 5e-6)
    .sort((a, b) => b[1] - a[1])
    .map(([role, seconds]) => {
      const share = kernel && seconds >= 0.1 ? ` (${Math.round(((kernel.get(role) ?? 0) / seconds) * 100)} % kernel)` : '';
      return `${role} ${Math.round((seconds / requests) * 1e6)} µs${share}`;
    })
    .join(' · ');
}

/** CPU seconds per request, every role together */
export function cpuPerRequest(used: Map<CpuRole, number>, requests: number): number {
  let seconds = 0;
  for (const value of used.values()) seconds += value;
  return seconds / requests;
}

/** "moto 0.62 · voting 0.05 · …" cores busy per role over `seconds`, biggest first */
export function coresBusy(used: Map<CpuRole, number>, seconds: number): string {
  return [...used]
    .filter(([, cpu]) => cpu / seconds >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([role, cpu]) => `${role} ${(cpu / seconds).toFixed(2)}`)
    .join(' · ') + ' (cores)';
}

/**
 * `npm start`: the whole platform on this machine (devStack.ts). Ctrl-C stops everything.
 *
 * The platform runs in a process group of its own, and this process forwards the signals it gets. A
 * terminal's Ctrl-C signals its whole foreground group: were the platform in it, embedded PostgreSQL
 * and moto would stop at once, alongside the services still using them — moto's state could not be
 * saved, and a service waiting on a database gone would be killed after its grace period (~10 s in
 * all). Forwarded, the signal goes to devStack alone, which stops the services first, then saves moto's
 * state and stops moto and PostgreSQL (under a second).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const platform = spawn(process.execPath, [...process.execArgv, fileURLToPath(new URL('./devStack.ts', import.meta.url)), ...process.argv.slice(2)], {
  stdio: 'inherit',
  // its own process group (and session): a terminal's signals reach it only through us
  detached: true,
});
const forward = (signal: NodeJS.Signals) => {
  if (platform.exitCode === null && platform.signalCode === null) platform.kill(signal);
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward);
// `npm start` runs us under npm; when npm is killed, its signal does not reach us: when our parent is
// gone, the platform stops as on SIGTERM (it also stops by itself if this process is killed outright)
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) forward('SIGTERM');
}, 500).unref();
platform.once('error', (error) => {
  console.error(`✖ could not start the platform: ${error.message}`);
  process.exit(1);
});
platform.once('exit', (code, signal) => process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));

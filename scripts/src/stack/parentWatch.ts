/**
 * Preloaded into every service the local stack starts: if the stack's process dies without stopping
 * us (killed, crashed), stop too — from the first moment, even before the service has finished loading.
 * SIGTERM to ourselves runs the service's orderly shutdown once it is installed, or simply ends it.
 */
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
}, 500).unref();

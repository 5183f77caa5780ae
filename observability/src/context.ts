import { AsyncLocalStorage } from 'node:async_hooks';

/** What a log line or a recorded event should know about the request it belongs to. */
export interface RequestContext {
  readonly requestId: string;
  readonly userId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithRequestContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}
export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';

export interface RunningServer {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  /** stops accepting, lets in-flight requests finish (up to graceMs), then drops what is left */
  close(graceMs?: number): Promise<void>;
}

/**
 * A handler that answers some requests itself, in front of an app's middleware: it returns true for a
 * request it took (and answers it), false to leave it to the app untouched. For the few plain
 * requests on a hot path that a handful of Koa layers would cost more than the work itself.
 */
export type DirectHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

const directHandlers = new WeakMap<Koa, DirectHandler>();

/** `app` served with `handler` in front of it by `startHttpServer` (the app alone elsewhere). */
export function withDirectHandler(app: Koa, handler: DirectHandler): Koa {
  directHandlers.set(app, handler);
  return app;
}

export async function startHttpServer(app: Koa, options: { port: number; host?: string }): Promise<RunningServer> {
  const callback = app.callback();
  const direct = directHandlers.get(app);
  const server = createServer(
    direct
      ? (req, res) => {
          if (!direct(req, res)) void callback(req, res);
        }
      : callback,
  );
  // longer than a load balancer's idle timeout, so it never reuses a connection we just closed
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // uploads of 100 MB over a slow link take a while
  server.requestTimeout = 15 * 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    async close(graceMs = 5000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';

export interface RunningServer {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  /** stops accepting, lets in-flight requests finish (up to graceMs), then drops what is left */
  close(graceMs?: number): Promise<void>;
}

export async function startHttpServer(app: Koa, options: { port: number; host?: string }): Promise<RunningServer> {
  const server = createServer(app.callback());
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

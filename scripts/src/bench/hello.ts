/**
 * The reference ceiling of the benchmarks: a bare Koa hello-world on this machine, in its own process
 * like the services. Prints its port as JSON on the first line. With HELLO_JWKS (a JWKS document) it
 * also serves it at auth's JWKS path, so a gateway can verify tokens against it (bench:gateway).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';

const jwks = process.env.HELLO_JWKS;
const app = new Koa();
app.use((ctx) => {
  ctx.body = jwks && ctx.path.endsWith('/jwks.json') ? JSON.parse(jwks) : { hello: 'world' };
});
const server = createServer(app.callback());
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as AddressInfo).port })));
process.on('SIGTERM', () => server.close(() => process.exit(0)));

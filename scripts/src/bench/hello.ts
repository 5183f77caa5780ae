/**
 * The reference ceiling of the benchmarks: a bare Koa hello-world on this machine, in its own process
 * like the services. Prints its port as JSON on the first line. With HELLO_JWKS (a JWKS document) it
 * also serves it at auth's JWKS path, so a gateway can verify tokens against it, and answers voting's
 * batch endpoint, so the gateway's batched votes get an outcome per call (bench:gateway).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';

const jwks = process.env.HELLO_JWKS;
const app = new Koa();
app.use((ctx) => {
  // (bench:gateway's stand-in for voting's batch endpoint: an outcome per call, as voting answers)
  if (jwks && ctx.method === 'POST' && ctx.path === '/internal/votes') return answerBatch(ctx);
  ctx.body = jwks && ctx.path.endsWith('/jwks.json') ? JSON.parse(jwks) : { hello: 'world' };
});

async function answerBatch(ctx: Koa.Context) {
  let text = '';
  for await (const chunk of ctx.req) text += chunk;
  const calls = JSON.parse(text) as { params: { video_id: string } }[];
  ctx.body = calls.map((call) => ({ status: 200, body: { message: 'Voto registrado exitosamente.', video_id: call.params.video_id } }));
}
const server = createServer(app.callback());
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as AddressInfo).port })));
process.on('SIGTERM', () => server.close(() => process.exit(0)));

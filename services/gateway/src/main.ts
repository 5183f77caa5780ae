import { runMain, serviceRuntime, startHttpServer } from '@anb/platform';
import { createGatewayApp } from './app';
import { jwksVerifier } from './authenticate';
import { loadGatewayConfig } from './config';

const service = 'gateway';

await runMain(service, async () => {
  const config = loadGatewayConfig();
  const { version, logger, lifecycle } = serviceRuntime(service, import.meta.url, config);

  const verifier = jwksVerifier({
    jwksUrl: config.JWKS_URL ?? new URL('/api/auth/.well-known/jwks.json', config.AUTH_URL).toString(),
    issuer: config.AUTH_JWT_ISSUER,
    audience: config.AUTH_JWT_AUDIENCE,
  });
  const app = createGatewayApp({
    version,
    logger,
    verifier,
    upstreams: {
      auth: { name: 'auth', baseUrl: config.AUTH_URL },
      'video-catalog': { name: 'video-catalog', baseUrl: config.CATALOG_URL },
      voting: { name: 'voting', baseUrl: config.VOTING_URL },
    },
    proxy: { timeoutMs: config.UPSTREAM_TIMEOUT_MS, uploadTimeoutMs: config.UPLOAD_TIMEOUT_MS },
    authRatePerMinute: config.RATE_LIMIT_AUTH_PER_MINUTE,
    publicCache: config.PUBLIC_CACHE,
    batching: config.BATCH_FORWARDING,
    directCalls: config.DIRECT_CALLS,
  });
  const server = await startHttpServer(app, { port: config.PORT, host: config.HOST });
  lifecycle.onStop('http', () => server.close());
  logger.info({ port: server.port }, 'gateway ready');
});

import {
  EventStore,
  createHttpApp,
  databaseCheck,
  openDatabase,
  relayCheck,
  runMain,
  serviceRuntime,
  startHttpServer,
  startOutboxRelay,
} from '@anb/platform';
import { authRoutes } from './api';
import { loadAuthConfig } from './config';
import { authMigrations, authSchema } from './migrations';
import { loadSigningKey } from './tokens/keys';
import { usersProjection } from './users/usersProjection';

const service = 'auth';

await runMain(service, async () => {
  const config = loadAuthConfig();
  const { version, logger, lifecycle } = serviceRuntime(service, import.meta.url, config);

  const db = await openDatabase({ service, config, schema: authSchema, migrations: authMigrations, lifecycle });

  const store = new EventStore(db, authSchema, { inlineProjections: [usersProjection], serviceActor: `service:${service}` });

  const relay = startOutboxRelay({ service, store, config, logger, lifecycle });

  const key = await loadSigningKey({ pem: config.AUTH_JWT_PRIVATE_KEY, keyFile: config.AUTH_JWT_KEY_FILE });
  const app = createHttpApp({
    service,
    version,
    logger,
    router: authRoutes({ db, store, key, tokens: { issuer: config.AUTH_JWT_ISSUER, audience: config.AUTH_JWT_AUDIENCE } }),
    health: [databaseCheck(db), relayCheck(relay)],
  });
  const server = await startHttpServer(app, { port: config.PORT, host: config.HOST });
  lifecycle.onStop('http', () => server.close());
  logger.info({ port: server.port, kid: key.kid }, 'auth ready');
});

import { apiRoutes, routerPath, type ServiceName } from '@anb/contracts';
import type { Logger } from '@anb/observability';
import { Router, createHttpApp, runHealthChecks, withDirectHandler, type HealthCheck } from '@anb/platform';
import type Koa from 'koa';
import { authenticate, type TokenVerifier } from './authenticate';
import { batchedProxy } from './batchedProxy';
import { directBatchedCalls, type DirectRoute } from './directCalls';
import { directForwardedReads, type DirectRead } from './directReads';
import { registerDocs } from './docs';
import { proxyTo, type ProxyOptions, type Upstream } from './proxy';
import { MicroCache } from './microCache';
import { rateLimit } from './rateLimit';

export interface GatewayDeps {
  version: string;
  logger: Logger;
  upstreams: Partial<Record<ServiceName, Upstream>>;
  verifier: TokenVerifier;
  proxy: ProxyOptions;
  authRatePerMinute: number;
  /** false turns the public micro-cache off */
  publicCache?: boolean;
  /** false forwards every call on its own, also those of routes the service takes in batches */
  batching?: boolean;
  /** false sends every request through Koa, also plain votes (`directBatchedCalls`), plain reads with a token (`directForwardedReads`) and micro-cache hits (`MicroCache.direct`) */
  directCalls?: boolean;
}

/** Health of the gateway = every service it routes to answers its own /health. */
export function upstreamChecks(upstreams: Partial<Record<ServiceName, Upstream>>): HealthCheck[] {
  return Object.values(upstreams).map((u) => ({
    name: u.name,
    async check() {
      const res = await fetch(new URL('/health', u.baseUrl), { signal: AbortSignal.timeout(1500) });
      if (!res.ok) throw new Error(`${u.name} answered ${res.status}`);
    },
  }));
}

/**
 * The only public entry: every route of the contract (from `apiRoutes`), each authenticated as the
 * contract says and forwarded to its service; docs; health. Unknown routes are 404 JSON, known paths
 * with another method 405 JSON.
 */
export function createGatewayApp(deps: GatewayDeps): Koa {
  const router = new Router();
  const health = upstreamChecks(deps.upstreams);
  router.get('/api/health', async (ctx) => {
    const report = await runHealthChecks(health, { version: deps.version, service: 'gateway' });
    ctx.status = report.status === 'healthy' ? 200 : 503;
    ctx.body = report;
  });
  registerDocs(router, deps.version);

  const limitAuth = rateLimit(deps.authRatePerMinute);
  const cache = new MicroCache();
  const batched: DirectRoute[] = [];
  const reads: DirectRead[] = [];
  for (const route of apiRoutes) {
    if (route.service === 'gateway') continue;
    const upstream = deps.upstreams[route.service];
    if (!upstream) throw new Error(`no upstream configured for ${route.service}`);
    const forwarding = route.batchPath && deps.batching !== false ? batchedProxy(upstream, route, deps.proxy) : undefined;
    if (forwarding) batched.push({ route, forwarding });
    else if (route.method === 'GET' && route.auth !== 'none') reads.push({ route, upstream });
    const middleware = [
      ...(route.service === 'auth' && route.method === 'POST' ? [limitAuth] : []),
      authenticate(route.auth, deps.verifier),
      ...(route.publicCacheMs && deps.publicCache !== false ? [cache.middleware(route.publicCacheMs)] : []),
      forwarding ? forwarding.middleware : proxyTo(upstream, route, deps.proxy),
    ];
    router.register(routerPath(route.path), [route.method], middleware);
  }
  const app = createHttpApp({
    service: 'gateway',
    version: deps.version,
    logger: deps.logger,
    router,
    health,
    // fresh public pages are answered before routing; misses go on to their route, which fills the cache
    ...(deps.publicCache !== false ? { beforeRouting: [cache.early()] } : {}),
  });
  // plain votes, plain reads with a token and public pages memory can serve skip Koa (each answered as Koa would answer it)
  if (deps.directCalls === false) return app;
  const direct = [
    directBatchedCalls({ routes: batched, verifier: deps.verifier, logger: deps.logger }),
    directForwardedReads({ reads, verifier: deps.verifier, logger: deps.logger, proxy: deps.proxy }),
    ...(deps.publicCache !== false ? [cache.direct(deps.logger)] : []),
  ].filter((handler) => handler !== undefined);
  return direct.length === 0 ? app : withDirectHandler(app, (req, res) => direct.some((handler) => handler(req, res)));
}

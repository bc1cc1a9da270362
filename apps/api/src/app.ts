import { join } from 'node:path';
import type { ArtifactStore, Env, GreenloopConfig, Logger, LoopStore, NearCache, Queues } from '@greenloop/core';
import { LocalArtifactStore, ProjectStore, resolveTokenSecret, TokenStore } from '@greenloop/core';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, LogController } from 'fastify';
import fp from 'fastify-plugin';
import { apiError, ErrorBody, errorHandler, formatSchemaErrors, parseJsonBody } from './errors.ts';
import { registerAdminQueues } from './plugins/admin-queues.ts';
import { authPlugin } from './plugins/auth.ts';
import { depsPlugin } from './plugins/deps.ts';
import { registerDocs } from './plugins/docs.ts';
import auditRoutes from './routes/audit/index.ts';
import dashboardRoutes from './routes/dashboard/index.ts';
import eventsRoutes from './routes/events/index.ts';
import healthRoutes from './routes/health/index.ts';
import insightsRoutes from './routes/insights/index.ts';
import loopsRoutes from './routes/loops/index.ts';
import metricsRoutes from './routes/metrics/index.ts';
import projectsRoutes from './routes/projects/index.ts';
import schedulesRoutes from './routes/schedules/index.ts';
import sessionRoutes from './routes/session/index.ts';
import tokensRoutes from './routes/tokens/index.ts';
import workersRoutes from './routes/workers/index.ts';
import { SHARED_SCHEMAS } from './schemas.ts';
import { type SseOptions, StreamSlots } from './sse.ts';

/** Largest request body accepted: the API takes small JSON documents only. */
export const BODY_LIMIT = 64 * 1024;

/** What the API needs; the caller creates (and closes) the clients. */
export interface AppDeps {
  env: Env;
  store: LoopStore;
  queues: Queues;
  /** greenloop.yaml of `env.repo`; see createConfigLoader for the cached, reloading one. */
  config: () => Promise<GreenloopConfig>;
  log?: Logger;
  /** Defaults to tokens in the store's Redis under the store's prefix. */
  tokens?: TokenStore;
  /** Failed authentications per minute: per client address (default 30) and over all addresses (default 600). */
  authFailures?: { perAddress?: number; total?: number };
  /** Per-token request budget; default 1200 per minute. false disables it. */
  rateLimit?: { max: number; timeWindowMs: number } | false;
  /** Event streams: heartbeat every 15s, at most 200 open per process and 10 per token by default. */
  sse?: Partial<SseOptions>;
  /**
   * Loop views and token records kept in memory and dropped the moment Redis says they changed. It
   * must track the store's read connection (`store.reads`), which token verification reads through
   * too. One that is not started (or cannot switch tracking on) keeps nothing: every read goes to Redis.
   */
  nearCache: NearCache;
  /** Where evidence is read from; defaults to the local store under `env.home` (see createArtifactStore). */
  artifacts?: ArtifactStore;
  /** /docs and /admin/queues; on by default. */
  docs?: boolean;
  adminQueues?: boolean;
}

/** Every route and plugin of the API, as one plugin. `buildApp` registers it on a configured instance. */
export function apiPlugin(deps: AppDeps): FastifyPluginAsync {
  // Not encapsulated: the error and not-found handlers must be the root ones.
  return fp(
    async (app) => {
      for (const schema of [ErrorBody, ...SHARED_SCHEMAS]) app.addSchema(schema);
      app.setErrorHandler(errorHandler);
      // Our own JSON parser so a syntax error names what is wrong and where, and prototype keys are refused.
      app.removeContentTypeParser('application/json');
      app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);
      app.setNotFoundHandler((request) => {
        throw apiError('ROUTE_NOT_FOUND', { method: request.method, url: request.url.split('?')[0]?.slice(0, 200) ?? '' });
      });
      const slots = new StreamSlots(deps.sse?.maxClients ?? 200, deps.sse?.maxPerToken ?? 10);
      app.decorate('eventStreams', { options: { heartbeatMs: deps.sse?.heartbeatMs ?? 15_000, maxClients: slots.limit, maxPerToken: slots.perToken }, slots });
      app.addHook('preClose', async () => slots.endAll());

      await app.register(depsPlugin, {
        env: deps.env,
        store: deps.store,
        queues: deps.queues,
        // Verification reads through the store's read connection: the one the near cache tracks.
        tokens:
          deps.tokens ??
          new TokenStore(deps.store.redis, deps.store.prefix, {
            reads: deps.store.reads,
            secret: resolveTokenSecret({ secret: deps.env.GREENLOOP_TOKEN_SECRET, home: deps.env.home }),
          }),
        projects: new ProjectStore(deps.store),
        config: deps.config,
        nearCache: deps.nearCache,
        artifactStore: deps.artifacts ?? new LocalArtifactStore(join(deps.env.home, 'artifacts')),
      });
      await app.register(authPlugin, {
        rateLimit: deps.rateLimit ?? { max: 1200, timeWindowMs: 60_000 },
        ...(deps.authFailures?.perAddress ? { maxFailuresPerMinute: deps.authFailures.perAddress } : {}),
        ...(deps.authFailures?.total ? { maxFailuresPerMinuteTotal: deps.authFailures.total } : {}),
        ...(deps.env.GREENLOOP_API_TOKEN ? { bootstrapToken: deps.env.GREENLOOP_API_TOKEN } : {}),
      });
      if (deps.docs !== false) await registerDocs(app);

      await app.register(healthRoutes);
      await app.register(metricsRoutes);
      await app.register(loopsRoutes, { prefix: '/v1/loops' });
      await app.register(eventsRoutes, { prefix: '/v1/events' });
      await app.register(schedulesRoutes, { prefix: '/v1/schedules' });
      await app.register(tokensRoutes, { prefix: '/v1/tokens' });
      await app.register(projectsRoutes, { prefix: '/v1/projects' });
      await app.register(auditRoutes, { prefix: '/v1/audit' });
      await app.register(sessionRoutes, { prefix: '/v1/session' });
      await app.register(insightsRoutes, { prefix: '/v1/insights' });
      await app.register(workersRoutes, { prefix: '/v1/workers' });
      await app.register(dashboardRoutes);
      if (deps.adminQueues !== false) await registerAdminQueues(app, deps.queues);
    },
    { name: 'greenloop-api' },
  );
}

/**
 * Builds the API (not listening). Call `app.ready()` or `app.inject()`; `startApi` listens.
 * Validation is strict: no type coercion of bodies, no silently dropped unknown fields.
 */
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    ...(deps.log ? { loggerInstance: deps.log as FastifyBaseLogger } : { logger: false }),
    bodyLimit: BODY_LIMIT,
    // A client that sends its request slowly (an authenticated slow body included) is cut off, and idle
    // connections are closed; event streams send heartbeats well within the idle timeout.
    requestTimeout: deps.env.GREENLOOP_REQUEST_TIMEOUT,
    connectionTimeout: deps.env.GREENLOOP_CONNECTION_TIMEOUT,
    // Node enforces requestTimeout only when given to the server's constructor (setting it later, as
    // fastify does, is ignored: measured), and checks it every connectionsCheckingInterval (default 30 s).
    http: { requestTimeout: deps.env.GREENLOOP_REQUEST_TIMEOUT, connectionsCheckingInterval: 1000 },
    // Whose X-Forwarded-For is believed decides request.ip, the key of failed-auth budgets (README "Limits").
    trustProxy: trustProxyOption(deps.env.GREENLOOP_TRUST_PROXY),
    // Artifact paths (the wildcard) can be long; other params are bounded by their schemas.
    routerOptions: { maxParamLength: 1024 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    schemaErrorFormatter: formatSchemaErrors,
    // Malformed URLs (bad percent-encoding) fail in the router, before any route's error handler.
    frameworkErrors: errorHandler,
    return503OnClosing: true,
    // No access log line per request: status polls would drown the log. Refusals and failures are
    // logged by the error handler, and who started, cancelled or scheduled what is in the audit trail.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request either: making one costs about a tenth of a status poll's time here.
    // The few lines a request logs (errors, refusals) carry its id themselves.
    childLoggerFactory: (logger) => logger,
  });
  app.register(apiPlugin(deps));
  return app;
}

/** GREENLOOP_TRUST_PROXY as fastify takes it: a hop count becomes the function fastify would make of it (its types lack numbers). */
function trustProxyOption(v: boolean | number | string): boolean | string | ((address: string, hop: number) => boolean) {
  return typeof v === 'number' ? (_address, hop) => hop < v : v;
}

/**
 * buildApp: the whole HTTP service as a Fastify instance, from its dependencies. It
 * starts the engine when the app gets ready and shuts everything down on close; the
 * process concerns (environment, signals, listen) live in server.ts.
 */
import { setTimeout } from 'node:timers/promises';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import type { Engine } from './engine/types.js';
import { authentication } from './http/auth.js';
import { clientErrorHandler } from './http/client-errors.js';
import { installDrainGuard } from './http/drain.js';
import { installErrorHandling, sendProblem } from './http/errors.js';
import { HttpProblem } from './http/problem.js';
import { openApiOptions } from './http/openapi.js';
import { loadShedding } from './http/pressure.js';
import { rateLimiting } from './http/rate-limit.js';
import { security } from './http/security.js';
import { validatorCompiler } from './http/validation.js';
import { installHttpMetrics } from './metrics/http-hooks.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { infoRoutes } from './routes/info.js';
import { metricsRoutes } from './routes/metrics.js';
import { monitoringRoutes } from './routes/monitoring.js';
import { mutexRoutes } from './routes/mutexes.js';
import { poolRoutes } from './routes/pool.js';
import { statusRoutes } from './routes/status.js';
import { workRoutes } from './routes/work.js';
import { Problem, ValidationIssue } from './schemas/common.js';
import { EventData, EventFrame, OverflowFrame, ResetFrame } from './schemas/events.js';
import { Mutex, MutexList } from './schemas/mutex.js';
import { Pool } from './schemas/pool.js';
import { Status } from './schemas/status.js';
import { Work, WorkList } from './schemas/work.js';
import { createServices, type Services } from './services.js';

export interface AppDeps {
  config: Config;
  engine: Engine;
  /** Fastify logger options or instance; false for none (tests). */
  logger?: FastifyServerOptions['logger'];
  loggerInstance?: FastifyServerOptions['loggerInstance'];
}

export type App = FastifyInstance & { services: Services };

export const SHARED_SCHEMAS = [ValidationIssue, Problem, Mutex, MutexList, Work, WorkList, Pool, EventData, ResetFrame, OverflowFrame, EventFrame, Status];

export async function buildApp(deps: AppDeps): Promise<App> {
  const { config, engine } = deps;
  const app = Fastify({
    ...(deps.loggerInstance ? { loggerInstance: deps.loggerInstance } : { logger: deps.logger ?? false }),
    bodyLimit: config.limits.bodyLimit,
    requestIdHeader: 'x-request-id',
    genReqId: requestIds(),
    // Draining is ours to handle (src/http/drain.ts): Fastify's own 503 while closing
    // would not be a problem document, and reads must keep working until the end.
    return503OnClosing: false,
    trustProxy: config.trustProxy,
    clientErrorHandler,
    // Errors raised before routing (a URL that does not decode) reach this, not the
    // error handler: answer them with the same problem documents.
    frameworkErrors: (err, _req, reply) => { sendProblem(reply, new HttpProblem(400, 'malformed-url', 'Bad request', err.message)); },
    routerOptions: { maxParamLength: 2048 },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Bodies are JSON only: without Fastify's built-in text/plain parser, any other media
  // type gets a 415 problem instead of a confusing 400 about a string body.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler());
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);

  const services = createServices(config, engine, {
    onTransition: (work, type) => app.log.debug({ workId: work.id, mutex: work.request.mutex, event: type, state: work.state }, 'work transition'),
    onInvariantViolation: (work, violation) => app.log.error({ workId: work.id, mutex: work.request.mutex, violation }, 'invariant violated: mutual exclusion'),
  });
  app.decorate('services', services);
  installErrorHandling(app, {
    bodyLimit: config.limits.bodyLimit,
    onProblem: (problem) => { if (problem.extra.limit) services.metrics.onLimitExceeded(problem.extra.limit); },
  });
  installHttpMetrics(app, services.metrics);

  // onRequest order matters: security headers first (so every answer has them), then
  // load shedding (cheapest refusal), authentication, the drain guard, and last the
  // per-route rate limit (so it counts against the verified token).
  await app.register(security, { cors: config.cors });
  await app.register(loadShedding, { pressure: config.pressure });
  await app.register(authentication, { auth: config.auth, corsEnabled: config.cors.origins.length > 0 });
  installDrainGuard(app, services.lifecycle);
  await app.register(rateLimiting, { rateLimit: config.rateLimit });

  await app.register(swagger, openApiOptions(config));
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', {
    schema: {
      operationId: 'getOpenApi', tags: ['docs'], summary: 'This OpenAPI document',
      response: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } } } },
    },
  }, async () => app.swagger() as unknown as Record<string, unknown>); // the document's own type has no index signature

  const opts = { services };
  await app.register(healthRoutes, opts);
  await app.register(metricsRoutes, opts);
  await app.register(infoRoutes, opts);
  await app.register(statusRoutes, opts);
  await app.register(mutexRoutes, opts);
  await app.register(workRoutes, opts);
  await app.register(poolRoutes, opts);
  await app.register(eventRoutes, opts);
  await app.register(monitoringRoutes, opts);
  await app.register(dashboardRoutes, opts);

  app.addHook('onReady', async () => {
    await engine.start();
    services.lifecycle.state = 'ready';
  });
  // preClose runs before the server stops accepting connections, so streams still
  // receive every terminal event before they are ended.
  app.addHook('preClose', async () => {
    if (services.lifecycle.state === 'stopped') return;
    services.lifecycle.state = 'draining';
    // readyz is 503 and nothing new starts from here; the delay gives load balancers
    // time to notice before the works are ended.
    if (config.shutdownDelayMs > 0) await setTimeout(config.shutdownDelayMs);
    await services.work.shutdown(config.shutdownTimeoutMs);
    services.sse.endAll();
    services.lifecycle.state = 'stopped';
  });
  return app as unknown as App;
}

/** Request ids: the client's x-request-id when given, else a short counter-based id. */
function requestIds(): () => string {
  let n = 0;
  const prefix = Math.random().toString(36).slice(2, 6);
  return () => `${prefix}-${(++n).toString(36)}`;
}

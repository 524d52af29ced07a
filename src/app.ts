/**
 * buildApp: the whole HTTP service as a Fastify instance, from its dependencies. It
 * starts the engine when the app gets ready and shuts everything down on close; the
 * process concerns (environment, signals, listen) live in server.ts.
 */
import { setTimeout } from 'node:timers/promises';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions,
  type RawReplyDefaultExpression, type RawRequestDefaultExpression, type RawServerDefault,
} from 'fastify';
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
import { eventObjectRoutes } from './routes/event-objects.js';
import { mutexRoutes } from './routes/mutexes.js';
import { semaphoreRoutes } from './routes/semaphores.js';
import { poolRoutes } from './routes/pool.js';
import { statusRoutes } from './routes/status.js';
import { workRoutes } from './routes/work.js';
import { Problem, ValidationIssue } from './schemas/common.js';
import { EventData, EventFrame, OverflowFrame, ResetFrame } from './schemas/events.js';
import { EventObject, EventObjectList } from './schemas/event-object.js';
import { Mutex, MutexList } from './schemas/mutex.js';
import { Semaphore, SemaphoreList } from './schemas/semaphore.js';
import { Pool } from './schemas/pool.js';
import { Status } from './schemas/status.js';
import { KeepaliveLine, Work, WorkList } from './schemas/work.js';
import { createServices, type Services } from './services.js';
import type { WorkServiceOptions } from './work/work-service.js';

export interface AppDeps {
  config: Config;
  engine: Engine;
  /** Fastify logger options or instance; false for none (tests). */
  logger?: FastifyServerOptions['logger'];
  loggerInstance?: FastifyServerOptions['loggerInstance'];
}

export type App = FastifyInstance & { services: Services };

export const SHARED_SCHEMAS = [ValidationIssue, Problem, Mutex, MutexList, Semaphore, SemaphoreList, EventObject, EventObjectList, Work, WorkList, Pool, EventData, ResetFrame, OverflowFrame, EventFrame, Status, KeepaliveLine];

type Instance = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

export async function buildApp(deps: AppDeps): Promise<App> {
  const { config, engine } = deps;
  const app = createFastify(deps);
  const services = createServices(config, engine, logTransitions(app));
  app.decorate('services', services);
  installErrorHandling(app, {
    bodyLimit: config.limits.bodyLimit,
    onProblem: (problem) => { if (problem.extra.limit) services.metrics.onLimitExceeded(problem.extra.limit); },
  });
  installHttpMetrics(app, services.metrics);
  await registerGuards(app, config, services);
  await registerApi(app, config, services);
  installLifecycle(app, config, services);
  return app as unknown as App;
}

function createFastify(deps: AppDeps): Instance {
  const app = Fastify({
    ...(deps.loggerInstance ? { loggerInstance: deps.loggerInstance } : { logger: deps.logger ?? false }),
    bodyLimit: deps.config.limits.bodyLimit,
    requestIdHeader: 'x-request-id',
    genReqId: requestIds(),
    // Draining is ours to handle (src/http/drain.ts): Fastify's own 503 while closing
    // would not be a problem document, and reads must keep working until the end.
    return503OnClosing: false,
    trustProxy: deps.config.trustProxy,
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
  return app;
}

function logTransitions(app: FastifyInstance): Pick<WorkServiceOptions, 'onTransition' | 'onInvariantViolation'> {
  return {
    onTransition: (work, type) => app.log.debug({ workId: work.id, mutex: work.request.mutex, semaphore: work.request.semaphore, event: type, state: work.state }, 'work transition'),
    onInvariantViolation: (work, violation) => app.log.error({ workId: work.id, mutex: work.request.mutex, semaphore: work.request.semaphore, violation }, 'invariant violated: mutual exclusion'),
  };
}

/**
 * onRequest order matters: security headers first (so every answer has them), then
 * load shedding (cheapest refusal), authentication, the drain guard, and last the
 * per-route rate limit (so it counts against the verified token).
 */
async function registerGuards(app: Instance, config: Config, services: Services): Promise<void> {
  await app.register(security, { cors: config.cors });
  await app.register(loadShedding, { pressure: config.pressure });
  await app.register(authentication, { auth: config.auth, corsEnabled: config.cors.origins.length > 0 });
  installDrainGuard(app, services.lifecycle);
  await app.register(rateLimiting, { rateLimit: config.rateLimit });
}

/**
 * The shared schemas, the OpenAPI document and its page, and every route: all the
 * document is made of (src/scripts/openapi.ts builds it from this alone).
 */
export async function registerApi(app: Instance, config: Config, services: Services): Promise<void> {
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  await app.register(swagger, openApiOptions(config));
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', {
    schema: {
      operationId: 'getOpenApi', tags: ['docs'], summary: 'This OpenAPI document',
      response: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } } } },
    },
  }, async () => app.swagger() as unknown as Record<string, unknown>); // the document's own type has no index signature
  const opts = { services };
  for (const routes of [healthRoutes, metricsRoutes, infoRoutes, statusRoutes, mutexRoutes, semaphoreRoutes, eventObjectRoutes, workRoutes, poolRoutes, eventRoutes, monitoringRoutes, dashboardRoutes]) {
    await app.register(routes, opts);
  }
}

/** Starts the engine when the app gets ready; drains and stops everything on close. */
function installLifecycle(app: Instance, config: Config, services: Services): void {
  app.addHook('onReady', async () => {
    await services.engine.start();
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
}

/** Request ids: the client's x-request-id when given, else a short counter-based id. */
function requestIds(): () => string {
  let n = 0;
  const prefix = Math.random().toString(36).slice(2, 6);
  return () => `${prefix}-${(++n).toString(36)}`;
}

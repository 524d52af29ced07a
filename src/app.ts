/**
 * buildApp: the whole HTTP service as a Fastify instance, from its dependencies. It
 * starts the engine when the app gets ready and shuts everything down on close; the
 * process concerns (environment, signals, listen) live in server.ts.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import type { Engine } from './engine/types.js';
import { installErrorHandling } from './http/errors.js';
import { validatorCompiler } from './http/validation.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { infoRoutes } from './routes/info.js';
import { mutexRoutes } from './routes/mutexes.js';
import { poolRoutes } from './routes/pool.js';
import { workRoutes } from './routes/work.js';
import { Problem, ValidationIssue } from './schemas/common.js';
import { EventData } from './schemas/events.js';
import { Mutex, MutexList } from './schemas/mutex.js';
import { Pool } from './schemas/pool.js';
import { Work, WorkList } from './schemas/work.js';
import { createServices, type Services } from './services.js';
import { version } from './version.js';

export interface AppDeps {
  config: Config;
  engine: Engine;
  /** Fastify logger options or instance; false for none (tests). */
  logger?: FastifyServerOptions['logger'];
  loggerInstance?: FastifyServerOptions['loggerInstance'];
}

export type App = FastifyInstance & { services: Services };

export const SHARED_SCHEMAS = [ValidationIssue, Problem, Mutex, MutexList, Work, WorkList, Pool, EventData];

export async function buildApp(deps: AppDeps): Promise<App> {
  const { config, engine } = deps;
  const app = Fastify({
    ...(deps.loggerInstance ? { loggerInstance: deps.loggerInstance } : { logger: deps.logger ?? false }),
    bodyLimit: config.limits.bodyLimit,
    requestIdHeader: 'x-request-id',
    genReqId: requestIds(),
    return503OnClosing: true,
    routerOptions: { maxParamLength: 2048 },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler());
  installErrorHandling(app);
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);

  const services = createServices(config, engine, {
    onTransition: (work, type) => app.log.debug({ workId: work.id, mutex: work.request.mutex, event: type, state: work.state }, 'work transition'),
  });
  app.decorate('services', services);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'tpmutex', version, description: 'Windows named mutexes held by thread-pool callbacks, over HTTP, with every step streamed as Server-Sent Events.' },
      tags: ['health', 'info', 'mutexes', 'work', 'events', 'pool'].map((name) => ({ name })),
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const opts = { services };
  await app.register(healthRoutes, opts);
  await app.register(infoRoutes, opts);
  await app.register(mutexRoutes, opts);
  await app.register(workRoutes, opts);
  await app.register(poolRoutes, opts);
  await app.register(eventRoutes, opts);

  app.addHook('onReady', async () => {
    await engine.start();
    services.lifecycle.state = 'ready';
  });
  // preClose runs before the server stops accepting connections, so streams still
  // receive every terminal event before they are ended.
  app.addHook('preClose', async () => {
    if (services.lifecycle.state === 'stopped') return;
    services.lifecycle.state = 'draining';
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

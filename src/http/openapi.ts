/**
 * The OpenAPI document's frame, and the answers that no route declares itself because
 * a layer in front of every route sends them: 401 (authentication), 429 (rate limit),
 * 503 (load shedding, draining) and 400 (a URL that does not decode). Each is declared
 * exactly where that layer applies, from the same path lists the layers use, so the
 * document says what the service really sends. Problems are declared
 * `application/problem+json`, with the headers that come with them.
 */
import type { SwaggerOptions } from '@fastify/swagger';
import type { Config } from '../config.js';
import { version } from '../version.js';
import { PUBLIC_PATHS } from './open-paths.js';
import { NEVER_SHED } from './pressure.js';
import { NEVER_LIMITED } from './rate-limit.js';

const TAGS: Record<string, string> = {
  health: 'Liveness, readiness and Prometheus metrics, for probes and scrapers',
  info: 'What this service is: version, engine, name semantics, limits',
  status: 'One compact document for dashboards, cheap to poll with If-None-Match',
  mutexes: 'Named kernel mutexes this service keeps a handle to',
  semaphores: 'Named kernel semaphores this service keeps a handle to; a work acquires one unit',
  'event-objects': 'Named kernel event objects this service keeps a handle to: set and reset now, or by the pool when a work returns',
  work: 'Thread-pool callbacks that acquire a mutex on their pool thread, hold it and return',
  events: 'Every step as Server-Sent Events, resumable with Last-Event-ID',
  pool: 'The thread pool: figures and limits',
  docs: 'This document, its browsable form, and the landing answer',
  monitoring: 'The live dashboard page, and the Grafana dashboard and Prometheus alert rules for a fleet',
};

const header = (description: string) => ({ type: 'string', description });
export const RETRY_AFTER = { 'retry-after': header('Seconds to wait before retrying') };

/** A problem answer: the Problem schema as application/problem+json, with its headers. */
/** Operations whose body may be left out (POST /v1/work/{id}/keepalive renews the work's own lease). */
const OPTIONAL_BODY = new Set(['keepaliveWork']);

export function problemResponse(description: string, headers: Record<string, { type: string; description: string }> = {}) {
  return {
    description,
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    content: { 'application/problem+json': { schema: { $ref: 'Problem' } } },
  };
}

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: body, query, path or header (see errors[]), or a URL that does not decode',
  401: 'Tokens are configured and none, or a wrong one, was sent',
  403: 'The name policy refuses the name',
  404: 'Not found',
  409: 'Conflict with the current state',
  413: 'Body larger than BODY_LIMIT',
  415: 'A body that is not application/json',
  422: 'Idempotency-Key reused with a different request',
  429: 'A limit was hit (`limit` names it); retry after Retry-After seconds',
  503: 'Overloaded, draining, or the engine cannot run; retry after Retry-After seconds',
};

const HEADERS_OF: Record<number, Record<string, { type: string; description: string }>> = {
  401: { 'www-authenticate': header('Bearer realm="tpmutex" (RFC 6750)') },
  429: RETRY_AFTER,
  503: RETRY_AFTER,
};

/** The problem answers a route declares with problemResponses(…codes). */
export const problemResponses = (...codes: number[]) =>
  Object.fromEntries(codes.map((code) => [code, problemResponse(PROBLEM_DESCRIPTIONS[code] ?? 'Problem', HEADERS_OF[code])]));

type RouteSchema = Record<string, unknown> & { response?: Record<string, unknown> };

const DOCS_PAGE: RouteSchema = {
  operationId: 'getDocs', tags: ['docs'], summary: 'This document, browsable (Swagger UI)',
  response: { 200: { description: 'The Swagger UI page', content: { 'text/html': { schema: { type: 'string' } } } } },
};

export function openApiOptions(config: Config): SwaggerOptions {
  const open = new Set<string>([...config.auth.openPaths, ...PUBLIC_PATHS]);
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'tpmutex', version,
        description: 'Windows named mutexes held by thread-pool callbacks, over HTTP, with every step streamed as Server-Sent Events.\n\n'
          + 'Live view: the [dashboard](/dashboard) page. Fleet monitoring: the [Grafana dashboard](/v1/monitoring/grafana-dashboard.json) and the [Prometheus alert rules](/v1/monitoring/prometheus-rules.yaml).',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: `http://127.0.0.1:${config.port}`, description: 'The service on this host (default HOST and PORT)' }],
      tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http', scheme: 'bearer',
            description: 'Needed on every route except AUTH_OPEN_PATHS (default /livez and /readyz) when API_TOKENS or API_TOKENS_FILE is configured. With no token configured the service listens on loopback only and needs none.',
          },
        },
      },
      // Either a bearer token or none: tokens are off unless configured.
      security: [{ bearerAuth: [] }, {}],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transformObject: (documentObject) => {
      if (!('openapiObject' in documentObject)) return documentObject.swaggerObject;
      const document = documentObject.openapiObject;
      // A query schema's style/explode (a comma-separated list) belong to its parameter.
      for (const item of Object.values(document.paths ?? {})) {
        for (const operation of Object.values(item ?? {})) {
          // A body the route fills in when it is missing (preValidation) is optional.
          const op = operation as { operationId?: string; requestBody?: { required?: boolean } };
          if (op.requestBody !== undefined && OPTIONAL_BODY.has(op.operationId ?? '')) op.requestBody.required = false;
          for (const parameter of (operation as { parameters?: Record<string, unknown>[] }).parameters ?? []) {
            const schema = parameter['schema'] as Record<string, unknown> | undefined;
            for (const key of ['style', 'explode']) {
              if (schema?.[key] !== undefined) { parameter[key] = schema[key]; delete schema[key]; }
            }
          }
        }
      }
      return document;
    },
    transform: ({ schema, url: routeUrl, route: { method } }) => {
      // The Swagger UI page is @fastify/swagger-ui's route (`/docs/`), hidden with its
      // assets; the page itself is an operation a client can call, so it is described here.
      const docsPage = method === 'GET' && routeUrl === '/docs/';
      const url = docsPage ? '/docs' : routeUrl;
      const route = { ...(docsPage ? DOCS_PAGE : schema as RouteSchema) };
      if (route.hide === true) return { schema: route as never, url };
      const responses: Record<string, unknown> = { ...problemResponses(400), ...route.response };
      if (open.has(url)) route['security'] = [];
      else responses['401'] ??= problemResponses(401)[401];
      if (!NEVER_LIMITED.has(url)) responses['429'] ??= problemResponses(429)[429];
      if (!NEVER_SHED.has(url)) responses['503'] ??= problemResponses(503)[503];
      route.response = responses;
      return { schema: route as never, url };
    },
  };
}

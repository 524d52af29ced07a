/**
 * Browser-facing hardening: security headers on every answer (helmet's), and CORS only
 * for the origins CORS_ORIGINS names (@fastify/cors). With no origins, no CORS header is
 * sent at all, so browsers refuse cross-origin calls: a web page a user visits cannot
 * drive the lock service on their machine.
 */
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config.js';

// Helmet's defaults fit: the only HTML is the Swagger UI, which loads its scripts from
// this origin ('self'). Except upgrade-insecure-requests: the service speaks plain HTTP
// on loopback, and upgrading the UI's own loads to https breaks it.
const HELMET_OPTIONS: HelmetOptions = { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } };

/**
 * The headers helmet sets for these options. With no CSP nonces they are the same for
 * every answer, so they are computed once here, by running helmet's own middleware
 * against a response that only records them, and each request just copies them: running
 * helmet's dozen middlewares per request cost a seventh of a bare route's time.
 */
export function helmetHeaders(options: HelmetOptions = HELMET_OPTIONS): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) { headers[name.toLowerCase()] = String(value); },
    removeHeader(name: string) { delete headers[name.toLowerCase()]; },
  };
  let done = false;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err !== undefined) throw err;
    done = true;
  });
  if (!done || Object.keys(headers).length === 0) throw new Error('helmet did not produce its headers synchronously');
  return Object.freeze(headers);
}

const REQUEST_HEADERS = ['authorization', 'content-type', 'idempotency-key', 'last-event-id', 'if-none-match', 'x-request-id'];
const EXPOSED_HEADERS = ['location', 'etag', 'retry-after', 'idempotent-replayed', 'x-request-id',
  'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];

async function securityPlugin(app: FastifyInstance, { cors: { origins } }: { cors: Config['cors'] }): Promise<void> {
  const securityHeaders = helmetHeaders();
  app.addHook('onRequest', (_req, reply, done) => {
    reply.headers(securityHeaders);
    done();
  });
  if (origins.length > 0) {
    await app.register(cors, {
      origin: [...origins],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: REQUEST_HEADERS,
      exposedHeaders: EXPOSED_HEADERS,
      // Tokens travel in Authorization, not cookies: no credentialed CORS needed.
      credentials: false,
      maxAge: 600,
    });
  }
}

export const security = fp(securityPlugin, { name: 'tpmutex-security', fastify: '5.x' });

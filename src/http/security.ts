/**
 * Browser-facing hardening: security headers on every answer (@fastify/helmet), and
 * CORS only for the origins CORS_ORIGINS names (@fastify/cors). With no origins, no
 * CORS header is sent at all, so browsers refuse cross-origin calls: a web page a user
 * visits cannot drive the lock service on their machine.
 */
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';

const REQUEST_HEADERS = ['authorization', 'content-type', 'idempotency-key', 'last-event-id', 'if-none-match', 'x-request-id'];
const EXPOSED_HEADERS = ['location', 'etag', 'retry-after', 'idempotent-replayed', 'x-request-id',
  'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];

async function securityPlugin(app: FastifyInstance, { cors: { origins } }: { cors: Config['cors'] }): Promise<void> {
  // Helmet's defaults fit: the only HTML is the Swagger UI, which loads its scripts
  // from this origin ('self'). Except upgrade-insecure-requests: the service speaks
  // plain HTTP on loopback, and upgrading the UI's own loads to https breaks it.
  await app.register(helmet, { global: true, contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
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

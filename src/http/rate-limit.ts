/**
 * Per-client rate limiting (@fastify/rate-limit): a client is its token when
 * authentication is on, else its address. Registered before the routes (it hooks
 * each route as it is added); its hook runs after authentication, so a request is
 * counted against the token that was verified, never against a token it only claims.
 * The health and metrics routes are never limited: probes must always get through.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { isOnPaths } from './open-paths.js';
import { limitExceeded } from './problem.js';

export const NEVER_LIMITED: ReadonlySet<string> = new Set(['/livez', '/readyz', '/metrics']);

async function rateLimitPlugin(app: FastifyInstance, { rateLimit: { max, windowMs } }: { rateLimit: Config['rateLimit'] }): Promise<void> {
  if (max === 0) return;
  await app.register(rateLimit, {
    global: true,
    max,
    timeWindow: windowMs,
    keyGenerator: (req) => (req.tokenId !== null ? `token:${req.tokenId}` : `ip:${req.ip}`),
    allowList: (req) => isOnPaths(req, NEVER_LIMITED),
    // Thrown by the plugin, so it reaches the one error handler as a problem.
    errorResponseBuilder: (_req, ctx) => limitExceeded('RATE_LIMIT_MAX',
      `more than ${ctx.max} requests in ${windowMs} ms from this client (RATE_LIMIT_MAX / RATE_LIMIT_WINDOW_MS); retry in ${ctx.after}`,
      Math.max(1, Math.ceil(ctx.ttl / 1000))),
  });
}

export const rateLimiting = fp(rateLimitPlugin, { name: 'tpmutex-rate-limit', fastify: '5.x' });

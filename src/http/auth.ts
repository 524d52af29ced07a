/**
 * Bearer-token authentication (API_TOKENS / API_TOKENS_FILE) through
 * @fastify/bearer-auth, with our own constant-time comparison (TokenSet). Off when no
 * token is configured (config.ts then only allows a loopback HOST). The routes in
 * AUTH_OPEN_PATHS answer without a token, and so do CORS preflights (browsers send
 * them without credentials). A refusal is a 401 problem with WWW-Authenticate.
 */
import bearerAuth from '@fastify/bearer-auth';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { isOnPaths, PUBLIC_PATHS } from './open-paths.js';
import { HttpProblem } from './problem.js';
import { TokenSet } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The id of the token that authenticated this request (log-safe), or null. */
    tokenId: string | null;
  }
}

export interface AuthOptions { auth: Config['auth']; corsEnabled: boolean }

const isPreflight = (req: FastifyRequest) => req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;

function unauthorized(code: string | undefined): HttpProblem {
  const missing = code === 'FST_BEARER_AUTH_MISSING_AUTHORIZATION_HEADER';
  return new HttpProblem(401, 'unauthorized', 'Unauthorized',
    missing ? 'this service needs a bearer token: send Authorization: Bearer <token>' : 'the bearer token is not valid here',
    // RFC 6750 §3: say the scheme, and (when a token was sent) that it is the problem.
    { headers: { 'www-authenticate': missing ? 'Bearer realm="tpmutex"' : 'Bearer realm="tpmutex", error="invalid_token"' } });
}

async function authPlugin(app: FastifyInstance, { auth, corsEnabled }: AuthOptions): Promise<void> {
  app.decorateRequest('tokenId', null);
  if (auth.tokens.length === 0) return;
  const tokens = new TokenSet(auth.tokens);
  const open = new Set<string>([...auth.openPaths, ...PUBLIC_PATHS]);
  await app.register(bearerAuth, {
    keys: [],
    addHook: false,
    verifyErrorLogLevel: 'debug',
    // RFC 9110 §11.1: the scheme name is case-insensitive ("bearer x" is fine).
    specCompliance: 'rfc6749',
    auth: (key, req) => {
      const id = tokens.identify(key);
      if (id === null) return false;
      req.tokenId = id;
      req.log = req.log.child({ tokenId: id });
      return true;
    },
  });
  const verify = app.verifyBearerAuth!;
  app.addHook('onRequest', (req, reply, done) => {
    if (isOnPaths(req, open) || (corsEnabled && isPreflight(req))) { done(); return; }
    verify(req, reply, (err?: Error) => done(err ? unauthorized((err as Error & { code?: string }).code) : undefined));
  });
}

export const authentication = fp(authPlugin, { name: 'tpmutex-auth', fastify: '5.x' });

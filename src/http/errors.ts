/**
 * The one error handler and the 404/405 handler: everything leaves as
 * application/problem+json, and 5xx details stay in the log.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AllowedMethods } from './allowed-methods.js';
import { drainOversizedBody } from './oversized-body.js';
import { HttpProblem, toHttpProblem, validationProblem } from './problem.js';
import { validationIssues } from './validation.js';
import type { ProblemBody } from '../schemas/common.js';
import type { ProblemSlug } from '../schemas/problem-types.js';

const FASTIFY_SLUGS: Record<string, ProblemSlug> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'body-too-large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'empty-body',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad-content-length',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed-json',
};

export interface ErrorHandlingOptions {
  /** BODY_LIMIT, named in the 413 problem. */
  bodyLimit: number;
  /** Sees every problem sent by the error handler (metrics count limits). */
  onProblem?: (problem: HttpProblem) => void;
}

function fromFastifyError(err: FastifyError, req: FastifyRequest, options: ErrorHandlingOptions): HttpProblem {
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new HttpProblem(413, 'body-too-large', 'Body too large', `the request body is larger than ${options.bodyLimit} bytes (BODY_LIMIT)`, { limit: 'BODY_LIMIT' });
  }
  if (err.validation) {
    return validationProblem(validationIssues(err.validation, err.validationContext));
  }
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new HttpProblem(415, 'unsupported-media-type', 'Unsupported media type',
      `a body of type ${JSON.stringify(req.headers['content-type'] ?? '')} is not accepted; send application/json`);
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const slug = FASTIFY_SLUGS[err.code] ?? (err instanceof SyntaxError ? 'malformed-json' : 'bad-request');
    return new HttpProblem(status, slug, titleOf(status), err.message);
  }
  return new HttpProblem(500, 'internal', 'Internal server error', 'the service failed to handle this request; see its log');
}

function titleOf(status: number): string {
  return ({ 400: 'Bad request', 404: 'Not found', 405: 'Method not allowed', 406: 'Not acceptable', 413: 'Body too large', 415: 'Unsupported media type' } as Record<number, string>)[status] ?? 'Request error';
}

export function sendProblem(reply: FastifyReply, problem: HttpProblem): FastifyReply {
  const body: ProblemBody = problem.toBody(reply.request.url);
  if (problem.extra.headers) reply.headers(problem.extra.headers);
  // Serialised here so the route's response schemas never reshape a problem.
  return reply.code(problem.status).type('application/problem+json').send(JSON.stringify(body));
}

/**
 * A refusal the service means to send (shedding, limits, draining: 503 and 429) is an
 * operational fact, one warn line without a stack; any other 5xx is a bug, logged at
 * error with its stack; the remaining 4xx are the client's business (debug).
 */
function logProblem(req: FastifyRequest, problem: HttpProblem, meant: boolean, err: Error): void {
  const fields = { problem: problem.slug, status: problem.status, detail: problem.detail, ...(problem.extra.limit ? { limit: problem.extra.limit } : {}) };
  if (meant && (problem.status === 503 || problem.status === 429)) req.log.warn(fields, 'request refused');
  else if (problem.status >= 500) req.log.error({ err }, 'request failed');
  else req.log.debug(fields, 'request rejected');
}

export function installErrorHandling(app: FastifyInstance, options: ErrorHandlingOptions): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') drainOversizedBody(req, reply, options.bodyLimit);
    const meant = toHttpProblem(err);
    const problem = meant ?? fromFastifyError(err, req, options);
    options.onProblem?.(problem);
    logProblem(req, problem, meant !== undefined, err);
    return sendProblem(reply, problem);
  });
  const allowed = new AllowedMethods();
  allowed.install(app);
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? req.url;
    const methods = allowed.of(path);
    if (methods.length > 0) {
      return sendProblem(reply, new HttpProblem(405, 'method-not-allowed', 'Method not allowed',
        `${path} does not answer ${req.method}; it answers ${methods.join(', ')}`, { headers: { allow: methods.join(', ') } }));
    }
    return sendProblem(reply, new HttpProblem(404, 'route-not-found', 'Not found', `no route ${req.method} ${path}`));
  });
}

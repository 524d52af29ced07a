/**
 * Routes whose whole body is optional (PUT of a semaphore or event object, POST
 * …/abandon): a request without a body is validated as `{}`, so the defaults apply and
 * the schema still rejects anything else, unknown fields included.
 */
import type { FastifyRequest } from 'fastify';

export async function emptyBodyAsObject(req: FastifyRequest): Promise<void> {
  if (req.body === undefined || req.body === null) req.body = {};
}

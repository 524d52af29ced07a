/**
 * The 202 that accepts a work (POST /v1/work, POST /v1/mutexes/{name}/abandon): the work,
 * its Location, and Idempotent-Replayed when an earlier request with the same
 * Idempotency-Key created it.
 */
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { SubmitResult } from '../work/work-service.js';

/** The 202 response's schema. */
export const acceptedWork = (description: string) => ({
  description,
  headers: {
    location: { type: 'string', description: 'The work: /v1/work/{id}' },
    'idempotent-replayed': { type: 'string', enum: ['true'], description: 'Present when this is the work an earlier request with the same Idempotency-Key created' },
  },
  content: { 'application/json': { schema: Type.Ref('Work') } },
});

export function sendAccepted(reply: FastifyReply, { work, replayed }: SubmitResult): FastifyReply {
  if (replayed) reply.header('idempotent-replayed', 'true');
  return reply.code(202).header('location', `/v1/work/${encodeURIComponent(work.id)}`).send(work);
}

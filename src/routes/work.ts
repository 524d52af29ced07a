import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { MutexRegistry } from '../mutex/registry.js';
import { normaliseName } from '../mutex/names.js';
import { problemResponses } from '../http/openapi.js';
import { IdempotencyHeaders, KeepaliveBody, KeepaliveQuery, WorkGetQuery, WorkIdParams, WorkListQuery, WorkRequest, type WorkState } from '../schemas/work.js';
import type { Services } from '../services.js';
import { validationProblem } from '../http/problem.js';
import { streamKeepalive } from '../work/keepalive-stream.js';
import { acceptedWork, sendAccepted } from './accepted-work.js';

const WorkRef = Type.Ref('Work');
const tags = ['work'];
const DEFAULT_WAIT_MS = 30_000;

export const workRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { work, config } = services;

  app.post('/v1/work', {
    schema: {
      operationId: 'submitWork', tags, summary: 'Submit work',
      description: '202 with Location. The callback runs on a pool thread, acquires its mutex or one unit of its semaphore there, spins/holds, returns; the pool releases what it acquired and sets `setEventOnReturn` (Windows order: mutex → event → semaphore; `actions` on `released` says what the pool did). At least one of mutex, semaphore, setEventOnReturn; not both mutex and semaphore (400). A semaphore or event object must be open (404 `object-not-open`); a mutex opens on first use. With Idempotency-Key, the same key and body return the same work (Idempotent-Replayed: true); another body → 422.',
      body: WorkRequest, headers: IdempotencyHeaders,
      response: {
        202: acceptedWork('Accepted: the work is queued'),
        ...problemResponses(400, 403, 404, 409, 413, 415, 422, 429, 503),
      },
    },
  }, async (req, reply) => sendAccepted(reply, work.submit(req.body, req.headers['idempotency-key'])));

  app.get('/v1/work', {
    schema: { operationId: 'listWork', tags, summary: 'List work (oldest first)', querystring: WorkListQuery, response: { 200: Type.Ref('WorkList'), ...problemResponses(400) } },
    // ?state=a,b (and the exploded ?state=a&state=b) become one list before validation.
    preValidation: async (req) => {
      const query = req.query as Record<string, unknown>;
      if (query['state'] !== undefined) query['state'] = ([] as unknown[]).concat(query['state']).flatMap((s) => String(s).split(','));
    },
  }, async (req) => {
    const { state, mutex, semaphore, label, limit, cursor } = req.query;
    return work.list({
      ...(state === undefined ? {} : { states: new Set(state as WorkState[]) }),
      ...(mutex === undefined ? {} : { mutex: MutexRegistry.normalise(mutex, 'query/mutex') }),
      ...(semaphore === undefined ? {} : { semaphore: normaliseName(semaphore, 'query/semaphore', 'semaphore') }),
      ...(label === undefined ? {} : { label }),
    }, limit ?? 100, cursor);
  });

  app.get('/v1/work/:id', {
    schema: {
      operationId: 'getWork', tags, summary: 'One work item', description: '`?wait=terminal&timeoutMs=N` long-polls until the work is terminal, or returns it as it is at the timeout.',
      params: WorkIdParams, querystring: WorkGetQuery, response: { 200: WorkRef, ...problemResponses(400, 404) },
    },
  }, async (req) => {
    const { id } = req.params;
    if (req.query.wait !== 'terminal') return work.get(id);
    const timeoutMs = req.query.timeoutMs ?? Math.min(DEFAULT_WAIT_MS, config.limits.maxWaitMs);
    if (timeoutMs > config.limits.maxWaitMs) {
      throw validationProblem([{ field: 'query/timeoutMs', message: `must be <= ${config.limits.maxWaitMs} (MAX_WAIT_MS)` }]);
    }
    const gone = new AbortController();
    req.raw.once('close', () => gone.abort());
    return work.waitTerminal(id, timeoutMs, gone.signal);
  });

  app.post('/v1/work/:id/signal', {
    schema: {
      operationId: 'signalWork', tags, summary: 'Make a holding callback return now', description: 'Ends an untilSignaled hold or a long hold; sent before the acquire, the hold ends as soon as it acquires. 409 if the work is terminal.',
      params: WorkIdParams, response: { 202: WorkRef, ...problemResponses(400, 404, 409) },
    },
  }, async (req, reply) => reply.code(202).send(work.signal(req.params.id)));

  app.post('/v1/work/:id/keepalive', {
    schema: {
      operationId: 'keepaliveWork', tags, summary: 'Renew the lease',
      description: 'The lease now runs out leaseMs from now (the work\'s own leaseMs, or the one in the body, which adds a lease to a work without one or changes it; ≤ MAX_LEASE_MS). Answers the work with its new leaseExpiresAt. 409 lease-expired once the lease ran out, 409 work-finished once the work ended.\n\n' +
        '`?stream=true`: the service renews the lease itself for as long as this request stays open (for clients with no timer of their own: a shell, PowerShell). The answer is NDJSON (application/x-ndjson), one KeepaliveLine per line: a `heartbeat` line per renewal (every leaseMs/3, at least every 15 s), and an `ended` line with the work when it ends, then the stream closes. When the client disconnects the renewals stop and the lease runs out leaseMs later.',
      params: WorkIdParams, querystring: KeepaliveQuery, body: KeepaliveBody,
      response: {
        200: {
          description: 'The work with its renewed lease; with ?stream=true, the NDJSON stream of KeepaliveLine',
          content: {
            'application/json': { schema: WorkRef },
            'application/x-ndjson': { schema: { type: 'string', description: 'One KeepaliveLine (JSON) per line' }, 'x-line-schema': { $ref: 'KeepaliveLine' } },
          },
        },
        ...problemResponses(400, 404, 409),
      },
    },
    // The body is optional: no body = renew the work's own lease.
    preValidation: async (req) => { if (req.body === undefined || req.body === null) req.body = {}; },
  }, async (req, reply) => {
    const { id } = req.params;
    const renewed = work.keepalive(id, req.body?.leaseMs);
    if (req.query.stream !== true) return reply.code(200).send(renewed);
    return reply.code(200).type('application/x-ndjson; charset=utf-8').header('cache-control', 'no-cache, no-transform')
      .header('x-accel-buffering', 'no').send(streamKeepalive(work, id, reply.raw));
  });

  app.delete('/v1/work/:id', {
    schema: {
      operationId: 'cancelWork', tags, summary: 'Cancel', description: 'queued → cancelled; waiting → the wait is aborted → cancelled; holding → like signal (returns, then released). 409 if terminal.',
      params: WorkIdParams, response: { 202: WorkRef, ...problemResponses(400, 404, 409) },
    },
  }, async (req, reply) => reply.code(202).send(work.cancel(req.params.id)));
};

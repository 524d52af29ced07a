import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { problemResponses } from '../http/openapi.js';
import { StatusHeaders } from '../schemas/status.js';
import type { Services } from '../services.js';
import { buildStatus, notModified, strongEtag } from '../status/status.js';

const STATUS_HEADERS = {
  etag: { type: 'string', description: 'Strong validator of the document; send it back in If-None-Match' },
  'cache-control': { type: 'string', description: 'no-cache: revalidate with the ETag' },
};

/** The dashboard document: cheap to poll with If-None-Match (304 until something changes). */
export const statusRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.get('/v1/status', {
    schema: {
      operationId: 'getStatus', tags: ['status'], summary: 'Compact summary for dashboards',
      description: 'Counts by state, held mutexes, pool figures and engine health in one small document with a strong ETag. Send the ETag back in If-None-Match: 304 (no body) while nothing changed.',
      headers: StatusHeaders,
      response: {
        200: { description: 'The status document', headers: STATUS_HEADERS, content: { 'application/json': { schema: { $ref: 'Status' } } } },
        304: { description: 'Not modified: your copy (If-None-Match) is current. No body.', headers: STATUS_HEADERS, type: 'null' },
        ...problemResponses(400),
      },
    },
  }, async (req, reply) => {
    const body = JSON.stringify(buildStatus(services));
    const etag = strongEtag(body);
    // no-cache: caches may keep it but must revalidate, which is what the ETag is for.
    reply.header('etag', etag).header('cache-control', 'no-cache');
    // A 304 has no body, so no content-type and no length of its own (RFC 9110 15.4.5):
    // send nothing at all (a null would be serialised as the 4 bytes "null").
    if (notModified(req.headers['if-none-match'], etag)) return (reply as FastifyReply).code(304).send();
    return reply.code(200).type('application/json; charset=utf-8').send(body);
  });
};

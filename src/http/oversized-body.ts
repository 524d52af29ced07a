/**
 * A client that sends a body over BODY_LIMIT must get its 413 problem, not a broken
 * connection. Fastify answers 413 as soon as Content-Length says the body is too large
 * and closes the connection; the client is usually still uploading, so closing with the
 * body unread makes the kernel reset the connection, and the client sees EPIPE or
 * ECONNRESET instead of the answer (measured: 3 in 200 requests with a 2 MB body).
 *
 * So when the announced length is moderate, the connection is kept open instead: Node
 * then reads the rest of the body and throws it away (the request is never consumed),
 * the client finishes its upload and reads the 413, and the connection can be reused.
 * Bodies announced larger than DRAIN_LIMIT_BYTES, or without a Content-Length, still
 * close at once: reading them would let a client make the service swallow gigabytes.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Largest oversized body that is read and discarded so the client gets its 413. */
export const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024;

/** Called by the error handler for a body over BODY_LIMIT, before it answers 413. */
export function drainOversizedBody(req: FastifyRequest, reply: FastifyReply, bodyLimit: number): void {
  const announced = Number(req.headers['content-length']);
  if (announced > bodyLimit && announced <= DRAIN_LIMIT_BYTES && reply.getHeader('connection') === 'close') reply.removeHeader('connection');
}

/**
 * Requests so malformed that Node's HTTP parser rejects them (bad request line, bad
 * header bytes, headers too large) never reach Fastify's router or error handler.
 * This answers them in the same application/problem+json shape as every other error,
 * then closes the connection (the stream position is unknown after a parse error).
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { problemType, type ProblemSlug } from '../schemas/problem-types.js';

type ConnectionError = Error & { code?: string };

function classify(err: ConnectionError): [number, ProblemSlug, string] {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'request-timeout', 'the request was not received in time'];
  if (err.code === 'HPE_HEADER_OVERFLOW') return [431, 'headers-too-large', 'the request headers are too large'];
  return [400, 'malformed-request', 'the request is not valid HTTP/1.1'];
}

export function clientErrorHandler(err: ConnectionError, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const [status, slug, detail] = classify(err);
    const body = JSON.stringify({ type: problemType(slug), title: STATUS_CODES[status], status, detail });
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

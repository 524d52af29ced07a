/**
 * While the service shuts down, nothing new may start: creating work or opening a
 * mutex gets a 503 problem (with Retry-After, for clients that fail over to another
 * instance). Everything else still answers, so clients can cancel, signal, read their
 * works and follow the event stream to the terminal events.
 */
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { unavailable } from './problem.js';

const CREATING = new Set(['POST /v1/work', 'PUT /v1/mutexes/:name']);

export function installDrainGuard(app: FastifyInstance, lifecycle: Services['lifecycle']): void {
  app.addHook('onRequest', (req, _reply, done) => {
    const state = lifecycle.state;
    if ((state === 'draining' || state === 'stopped') && CREATING.has(`${req.method} ${req.routeOptions.url ?? ''}`)) {
      done(unavailable('shutting-down', 'the service is shutting down and accepts no new work or mutexes'));
      return;
    }
    done();
  });
}

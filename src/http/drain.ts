/**
 * While the service shuts down, nothing new may start: creating work (an abandon is
 * one) or opening a mutex, semaphore or event object gets a 503 problem (with Retry-After, for clients that fail over to another
 * instance). Everything else still answers, so clients can cancel, signal, read their
 * works and follow the event stream to the terminal events.
 */
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { unavailable } from './problem.js';

const CREATING = new Set([
  'POST /v1/work', 'POST /v1/mutexes/:name/abandon',
  'PUT /v1/mutexes/:name', 'PUT /v1/semaphores/:name', 'PUT /v1/event-objects/:name',
]);

export function installDrainGuard(app: FastifyInstance, lifecycle: Services['lifecycle']): void {
  app.addHook('onRequest', (req, _reply, done) => {
    const state = lifecycle.state;
    if ((state === 'draining' || state === 'stopped') && CREATING.has(`${req.method} ${req.routeOptions.url ?? ''}`)) {
      done(unavailable('shutting-down', 'the service is shutting down and accepts no new work or objects'));
      return;
    }
    done();
  });
}

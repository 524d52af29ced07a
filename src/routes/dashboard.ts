/**
 * The live dashboard page (/dashboard) and the landing answer (GET /). The page is a
 * handful of static files shipped in the package (dashboard/): plain HTML, CSS and ES
 * modules, no build step, nothing from another origin, so it works offline and under
 * the strict Content-Security-Policy (script-src 'self'). They hold no data: every
 * figure comes from the API with the viewer's token, so they are answered without one
 * (PUBLIC_PATHS), and the page asks for a token when the API answers 401.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { readdir, readFile } from 'node:fs/promises';
import { Type } from 'typebox';
import { HttpProblem } from '../http/problem.js';
import type { Services } from '../services.js';
import { version } from '../version.js';

/** The package's dashboard/ folder (this file is dist/src/routes/dashboard.js). */
export const DASHBOARD_DIR = new URL('../../../dashboard/', import.meta.url);

const MEDIA_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const Landing = Type.Object({
  name: Type.String(),
  version: Type.String(),
  links: Type.Record(Type.String(), Type.String(), { description: 'Where to go next, by what it is' }),
});

/** The files of dashboard/ by name, with their media types; read once (they change only with the package). */
async function loadAssets(): Promise<Map<string, { body: Buffer; type: string }>> {
  const assets = new Map<string, { body: Buffer; type: string }>();
  for (const name of await readdir(DASHBOARD_DIR)) {
    const type = MEDIA_TYPES[name.slice(name.lastIndexOf('.'))];
    if (type !== undefined) assets.set(name, { body: await readFile(new URL(name, DASHBOARD_DIR)), type });
  }
  const page = assets.get('index.html');
  if (page === undefined) throw new Error(`the dashboard page is missing: ${new URL('index.html', DASHBOARD_DIR).pathname}`);
  assets.delete('index.html');
  return new Map([['', page], ...assets]);
}

export const dashboardRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app) => {
  const assets = await loadAssets();
  // no-cache: revalidated on every load, so an upgraded service never runs an old script.
  const sendAsset = (reply: FastifyReply, asset: { body: Buffer; type: string }) =>
    reply.type(asset.type).header('cache-control', 'no-cache').send(asset.body);

  app.get('/', {
    schema: {
      operationId: 'getLanding', tags: ['docs'], summary: 'Where to start: links to the dashboard, the API documentation and the monitoring files',
      response: { 200: Landing },
    },
  }, async () => ({
    name: 'tpmutex',
    version,
    links: {
      dashboard: '/dashboard',
      docs: '/docs',
      openapi: '/openapi.json',
      status: '/v1/status',
      events: '/v1/events',
      metrics: '/metrics',
      grafanaDashboard: '/v1/monitoring/grafana-dashboard.json',
      prometheusRules: '/v1/monitoring/prometheus-rules.yaml',
    },
  }));

  app.get('/dashboard', {
    schema: {
      operationId: 'getDashboard', tags: ['monitoring'], summary: 'The live dashboard page (HTML)',
      description: 'Mutexes, recent works, the pool and the last events, live from /v1/events. Static: answered without a token; the page asks for one when the API needs it and keeps it for the browser tab.',
      response: { 200: { description: 'The page', content: { 'text/html': { schema: { type: 'string' } } } } },
    },
  }, async (_req, reply) => sendAsset(reply, assets.get('')!));

  // The page's scripts and styles: not API operations, so not in the OpenAPI document.
  app.get('/dashboard/:file', { schema: { hide: true, params: Type.Object({ file: Type.String({ maxLength: 64 }) }) } }, async (req, reply) => {
    const asset = req.params.file === '' ? undefined : assets.get(req.params.file);
    if (asset === undefined) throw new HttpProblem(404, 'route-not-found', 'Not found', `the dashboard has no file ${JSON.stringify(req.params.file)}`);
    return sendAsset(reply, asset);
  });
};

/**
 * The fleet monitoring files shipped in the package (monitoring/): a Grafana dashboard
 * and Prometheus alert rules, served as they are so an operator can fetch them from a
 * running host. Read once when the app is built: they change only with the package.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { readFile } from 'node:fs/promises';
import type { Services } from '../services.js';

/** The package's monitoring/ folder (this file is dist/src/routes/monitoring.js). */
export const MONITORING_DIR = new URL('../../../monitoring/', import.meta.url);

export const monitoringRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app) => {
  const [dashboard, rules] = await Promise.all([
    readFile(new URL('grafana-dashboard.json', MONITORING_DIR), 'utf8'),
    readFile(new URL('prometheus-rules.yaml', MONITORING_DIR), 'utf8'),
  ]);
  const tags = ['monitoring'];

  app.get('/v1/monitoring/grafana-dashboard.json', {
    schema: {
      operationId: 'getGrafanaDashboard', tags, summary: 'Grafana dashboard for a fleet of tpmutex hosts',
      description: 'Importable as is (Dashboards → New → Import): a data source variable and an instance variable (one host or the whole fleet). README, Monitoring a fleet.',
      produces: ['application/json'],
      response: { 200: { description: 'The dashboard JSON model', content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } } } },
    },
  }, async (_req, reply) => (reply as FastifyReply).type('application/json; charset=utf-8').send(dashboard)); // the text as shipped, not re-serialised

  app.get('/v1/monitoring/prometheus-rules.yaml', {
    schema: {
      operationId: 'getPrometheusRules', tags, summary: 'Prometheus alert rules for a fleet of tpmutex hosts',
      description: 'A rule file (rule_files in prometheus.yml), each alert with a runbook annotation. README, Monitoring a fleet.',
      produces: ['application/yaml'],
      response: { 200: { description: 'The rule file', content: { 'application/yaml': { schema: { type: 'string' } } } } },
    },
  }, async (_req, reply) => reply.type('application/yaml; charset=utf-8').send(rules));
};

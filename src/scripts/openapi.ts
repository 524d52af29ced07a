/**
 * The OpenAPI document, generated from the route schemas (the only schema source).
 * `npm run openapi` writes openapi.yaml; test/openapi.test.ts fails when the committed
 * file differs from what the code generates.
 *
 * The routes are mounted on a bare Fastify instance with services that nothing calls:
 * no engine starts (no worker threads, no DLL) to print a document.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { stringify } from 'yaml';
import { registerApi } from '../app.js';
import { loadConfig } from '../config.js';
import type { Services } from '../services.js';

export async function generateOpenApiYaml(): Promise<string> {
  // Defaults only, so the document does not depend on the generating machine's env.
  const config = loadConfig({ ENGINE: 'emulated' });
  const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  // The document needs the schemas, not a validator: accept everything.
  app.setValidatorCompiler(() => () => true);
  try {
    await registerApi(app, config, unreachableServices());
    await app.ready();
    return stringify(app.swagger(), { lineWidth: 0, aliasDuplicateObjects: false });
  } finally {
    await app.close();
  }
}

/**
 * Services for an app that answers no request: routes may take what they need from it
 * when they are mounted, and any call throws.
 */
function unreachableServices(): Services {
  const unreachable: object = new Proxy(() => {}, {
    get: () => unreachable,
    apply: () => { throw new Error('the OpenAPI generator answers no requests'); },
  });
  // A stand-in for every service at once; the routes only keep references to it.
  return unreachable as Services;
}

/** The document's text with LF line endings (a CRLF checkout reads the same). */
export function withLfLineEndings(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

/**
 * The OpenAPI document, generated from the route schemas (the only schema source).
 * `npm run openapi` writes openapi.yaml; test/openapi.test.ts fails when the committed
 * file differs from what the code generates.
 */
import { stringify } from 'yaml';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import { selectEngine } from '../engine/select.js';

export async function generateOpenApiYaml(): Promise<string> {
  // Defaults only, so the document does not depend on the generating machine's env.
  const config = loadConfig({ ENGINE: 'emulated' });
  const engine = await selectEngine('emulated', { pool: { minThreads: 1, maxThreads: 1 } });
  const app = await buildApp({ config, engine });
  try {
    await app.ready();
    return stringify(app.swagger(), { lineWidth: 0, aliasDuplicateObjects: false });
  } finally {
    await app.close();
  }
}

/** The document's text with LF line endings (a CRLF checkout reads the same). */
export function withLfLineEndings(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { generateOpenApiYaml, withLfLineEndings } from '../src/scripts/openapi.js';

it('the committed openapi.yaml is what the route schemas generate (run `npm run openapi` after changing a route)', async () => {
  const committed = readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8');
  const generated = await generateOpenApiYaml();
  assert.equal(withLfLineEndings(committed), withLfLineEndings(generated));
});

it('the comparison ignores line endings: a CRLF checkout (Git for Windows without .gitattributes) still matches', async () => {
  const generated = await generateOpenApiYaml();
  const crlf = generated.replace(/\n/g, '\r\n');
  assert.notEqual(crlf, generated);
  assert.equal(withLfLineEndings(crlf), withLfLineEndings(generated));
  // And a real difference still shows.
  assert.notEqual(withLfLineEndings(crlf.replace('tpmutex', 'tpmutexx')), withLfLineEndings(generated));
});

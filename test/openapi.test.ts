import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { generateOpenApiYaml } from '../src/scripts/openapi.js';

it('the committed openapi.yaml is what the route schemas generate (run `npm run openapi` after changing a route)', async () => {
  const committed = readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8');
  const generated = await generateOpenApiYaml();
  assert.equal(committed, generated);
});

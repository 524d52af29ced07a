import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { parse } from 'yaml';
import { generateOpenApiYaml, withLfLineEndings } from '../src/scripts/openapi.js';

it('the committed openapi.yaml is what the route schemas generate (run `npm run openapi` after changing a route)', async () => {
  const committed = readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8');
  const generated = await generateOpenApiYaml();
  assert.equal(withLfLineEndings(committed), withLfLineEndings(generated));
});

it('every tag an operation uses is declared, with a description', async () => {
  const spec = parse(await generateOpenApiYaml()) as { tags: { name: string; description?: string }[]; paths: Record<string, Record<string, { tags?: string[] }>> };
  const declared = new Map(spec.tags.map((t) => [t.name, t.description]));
  const used = new Set(Object.values(spec.paths).flatMap((item) => Object.values(item).flatMap((op) => op.tags ?? [])));
  for (const tag of used) assert.ok(declared.get(tag), `tag ${tag} is used but not declared with a description`);
});

it('the comparison ignores line endings: a CRLF checkout (Git for Windows without .gitattributes) still matches', async () => {
  const generated = await generateOpenApiYaml();
  const crlf = generated.replace(/\n/g, '\r\n');
  assert.notEqual(crlf, generated);
  assert.equal(withLfLineEndings(crlf), withLfLineEndings(generated));
  // And a real difference still shows.
  assert.notEqual(withLfLineEndings(crlf.replace('tpmutex', 'tpmutexx')), withLfLineEndings(generated));
});

it('Redocly lint (recommended rules, every finding an error: redocly.yaml) passes openapi.yaml', () => {
  const cli = fileURLToPath(new URL('../../node_modules/@redocly/cli/bin/cli.js', import.meta.url));
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const lint = spawnSync(process.execPath, [cli, 'lint', 'openapi.yaml'], { cwd: root, encoding: 'utf8', env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
  assert.equal(lint.status, 0, `${lint.stdout}\n${lint.stderr}`);
  assert.match(`${lint.stdout}${lint.stderr}`, /Your API description is valid/);
  assert.doesNotMatch(`${lint.stdout}${lint.stderr}`, /You have \d+ warnings?/);
});

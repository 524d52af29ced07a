/**
 * The problem catalogue is the one list of problem types: the README's error table
 * names every one of them, with its status, and the OpenAPI document's Problem.type
 * enum is exactly the catalogue.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { parse } from 'yaml';
import { PROBLEM_TYPES, problemType, type ProblemSlug } from '../../src/schemas/problem-types.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const errorsSection = readme.slice(readme.indexOf('## Errors'), readme.indexOf('\n## ', readme.indexOf('## Errors') + 1));

it('the README error table names every problem type on the row of its status', () => {
  const rows = errorsSection.split('\n').filter((line) => /^\| \d{3} \|/.test(line));
  for (const [slug, [status]] of Object.entries(PROBLEM_TYPES) as [ProblemSlug, readonly [number, string]][]) {
    const row = rows.find((line) => line.startsWith(`| ${status} |`) && line.includes(`\`${slug}\``));
    assert.ok(row, `README ## Errors has no ${status} row naming \`${slug}\``);
  }
});

it('openapi.yaml declares Problem.type as exactly the catalogue', () => {
  const spec = parse(readFileSync(new URL('../../../openapi.yaml', import.meta.url), 'utf8')) as {
    components: { schemas: { Problem: { properties: { type: { enum: string[] } } } } };
  };
  assert.deepEqual(spec.components.schemas.Problem.properties.type.enum, Object.keys(PROBLEM_TYPES).map((slug) => problemType(slug as ProblemSlug)));
});

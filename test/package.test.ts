/**
 * What `npm pack` ships: the compiled service, the OpenAPI document, the dashboard page,
 * the monitoring files (Grafana dashboard, Prometheus rules) and — so that a
 * Windows user needs no compiler — the prebuilt DLL; no sources, tests or build output
 * of the native build script. (test/package-smoke.ts installs and starts the package.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const DLL = 'prebuilds/win32-x64/tpmutex-shim.dll';

it('npm pack ships dist/src, openapi.yaml, dashboard/, monitoring/ and the prebuilt DLL, and nothing else', { skip: existsSync(`${root}${DLL}`) ? false : `${DLL} is not built here` }, () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', shell: process.platform === 'win32' });
  assert.equal(r.status, 0, r.stderr);
  const [pack] = JSON.parse(r.stdout) as [{ files: { path: string }[] }];
  const files = pack.files.map((f) => f.path.replace(/\\/g, '/'));
  assert.ok(files.includes(DLL), 'the DLL');
  assert.ok(files.includes('dist/src/server.js'));
  assert.ok(files.includes('dist/src/engine/win32/drain-request.js'));
  assert.ok(files.includes('openapi.yaml'));
  assert.ok(files.includes('dashboard/index.html'));
  assert.ok(files.includes('monitoring/grafana-dashboard.json'));
  assert.ok(files.includes('monitoring/prometheus-rules.yaml'));
  const unexpected = files.filter((f) => !/^(dist\/src\/|dashboard\/|monitoring\/|package\.json$|README\.md$|openapi\.yaml$|LICENSE)/.test(f) && f !== DLL);
  assert.deepEqual(unexpected, []);
  assert.deepEqual(files.filter((f) => f.startsWith('dist/src/native/') || f.startsWith('dist/test/') || f.startsWith('src/')), []);
});

/**
 * What `npm pack` ships: the compiled service, the client with its type declarations,
 * the CLI, the OpenAPI document, the dashboard page, the monitoring files (Grafana
 * dashboard, Prometheus rules) and — so that a Windows user needs no compiler — the
 * prebuilt DLL; no sources, tests or build output of the native build script. And what
 * a harness author gets from it: the tarball installed into an empty project, a script
 * importing 'tpmutex/client' type-checked there under `tsc --strict` and run against a
 * live service, and the installed `tpmutex` binary answering. (test/package-smoke.ts
 * installs and starts the package on Windows.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startServer } from './helpers/server-process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const DLL = 'prebuilds/win32-x64/tpmutex-shim.dll';
const skipWithoutDll = existsSync(`${root}${DLL}`) ? false : `${DLL} is not built here`;
const shell = process.platform === 'win32';

it('npm pack ships dist/src, openapi.yaml, dashboard/, monitoring/ and the prebuilt DLL, and nothing else', { skip: skipWithoutDll }, () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', shell: process.platform === 'win32' });
  assert.equal(r.status, 0, r.stderr);
  const [pack] = JSON.parse(r.stdout) as [{ files: { path: string }[] }];
  const files = pack.files.map((f) => f.path.replace(/\\/g, '/'));
  assert.ok(files.includes(DLL), 'the DLL');
  assert.ok(files.includes('dist/src/server.js'));
  assert.ok(files.includes('dist/src/engine/win32/drain-request.js'));
  assert.ok(files.includes('openapi.yaml'));
  for (const file of ['dist/src/client/index.js', 'dist/src/client/index.d.ts', 'dist/src/client/types.d.ts', 'dist/src/schemas/work.d.ts', 'dist/src/cli/main.js']) assert.ok(files.includes(file), file);
  for (const file of ['dashboard/index.html', 'monitoring/grafana-dashboard.json', 'monitoring/prometheus-rules.yaml']) assert.ok(files.includes(file), file);
  const unexpected = files.filter((f) => !/^(dist\/src\/|dashboard\/|monitoring\/|package\.json$|README\.md$|openapi\.yaml$|LICENSE)/.test(f) && f !== DLL);
  assert.deepEqual(unexpected, []);
  assert.deepEqual(files.filter((f) => f.startsWith('dist/src/native/') || f.startsWith('dist/test/') || f.startsWith('src/')), []);
});

it('installs from npm pack into an empty project, where a client script type-checks under tsc --strict and runs, and the tpmutex binary answers', { skip: skipWithoutDll }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tpmutex-consumer-'));
  try {
    const pack = spawnSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: root, encoding: 'utf8', shell });
    assert.equal(pack.status, 0, pack.stderr);
    const [{ filename }] = JSON.parse(pack.stdout) as [{ filename: string }];
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    // Its dependencies are the ones `npm ci` just put in npm's cache: no download needed.
    const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', `./${filename}`], { cwd: dir, encoding: 'utf8', shell });
    assert.equal(install.status, 0, install.stderr);

    copyFileSync(join(root, 'test', 'package-consumer.mts'), join(dir, 'consumer.mts'));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        strict: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext',
        // As `tsc --init` sets it: the consumer's code is still checked against the
        // client's types; only the declaration files' own bodies are not (typebox's alone
        // cost ~25 s of CPU).
        skipLibCheck: true,
        // This repository's @types/node and TypeScript: the project needs nothing downloaded.
        typeRoots: [join(root, 'node_modules', '@types')], types: ['node'],
      },
      files: ['consumer.mts'],
    }));
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8' });
    assert.equal(tsc.status, 0, `tsc --strict in the consumer project:\n${tsc.stdout}${tsc.stderr}`);

    const server = await startServer({ ENGINE: 'emulated' });
    try {
      const run = spawnSync(process.execPath, ['consumer.mjs', server.baseUrl], { cwd: dir, encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.ok((JSON.parse(run.stdout) as { fencingToken: number }).fencingToken >= 1, run.stdout);
      const bin = join(dir, 'node_modules', '.bin', process.platform === 'win32' ? 'tpmutex.cmd' : 'tpmutex');
      const status = spawnSync(bin, ['status', '--json', '--url', server.baseUrl], { cwd: dir, encoding: 'utf8', shell });
      assert.equal(status.status, 0, status.stderr);
      assert.equal((JSON.parse(status.stdout) as { status: string }).status, 'ready');
    } finally {
      assert.equal(await server.stop(), 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  }
});

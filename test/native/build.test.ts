/**
 * The shim's build (src/native/build.ts, compiler.ts): the compiler's flags follow what
 * `-dumpmachine` prints, whatever the compiler is called; a failing auto-detected
 * compiler is a warning, a failing chosen one an error; nothing is left behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { commandLine, toolchainOf } from '../../src/native/compiler.js';

const BUILD = fileURLToPath(new URL('../../src/native/build.js', import.meta.url));
const PREBUILDS = fileURLToPath(new URL('../../../prebuilds/win32-x64/', import.meta.url));

describe('compiler choice from -dumpmachine', () => {
  const samples: [cc: string, dumpmachine: string, expected: ReturnType<typeof toolchainOf> | RegExp][] = [
    // LLVM's Windows release (GitHub runners): MSVC ABI, Visual Studio's linker.
    ['clang', 'x86_64-pc-windows-msvc\r\n', { family: 'clang-msvc', target: undefined }],
    ['C:\\Program Files\\LLVM\\bin\\clang.exe', 'x86_64-pc-windows-msvc\n', { family: 'clang-msvc', target: undefined }],
    // llvm-mingw and MSYS2 clang64/ucrt64: the same name, the MinGW ABI.
    ['clang', 'x86_64-w64-windows-gnu\n', { family: 'clang-mingw', target: undefined }],
    ['x86_64-w64-mingw32-clang', 'x86_64-w64-windows-gnu\n', { family: 'clang-mingw', target: undefined }],
    // llvm-mingw on a Windows on Arm host: still an x64 DLL.
    ['clang.exe', 'aarch64-w64-windows-gnu\n', { family: 'clang-mingw', target: '--target=x86_64-w64-windows-gnu' }],
    ['clang', 'aarch64-pc-windows-msvc\n', { family: 'clang-msvc', target: '--target=x86_64-pc-windows-msvc' }],
    // mingw-w64 gcc (Debian cross-compiler, MSYS2 mingw64).
    ['x86_64-w64-mingw32-gcc', 'x86_64-w64-mingw32\n', { family: 'gcc', target: undefined }],
    ['gcc', 'x86_64-w64-mingw32\n', { family: 'gcc', target: undefined }],
    ['gcc', 'i686-w64-mingw32\n', /not x86_64 Windows/],
    // Cygwin/MSYS runtimes, other operating systems, nothing at all.
    ['gcc', 'x86_64-pc-msys\n', /Cygwin\/MSYS runtime/],
    ['clang', 'x86_64-pc-cygwin\n', /Cygwin\/MSYS runtime/],
    ['clang', 'x86_64-pc-linux-gnu\n', /not Windows/],
    ['clang', 'arm64-apple-darwin23.4.0\n', /not Windows/],
    ['gcc', 'x86_64-pc-windows-msvc\n', /only clang or cl/],
    ['clang', '', /printed nothing/],
  ];
  for (const [cc, dumpmachine, expected] of samples) {
    it(`${cc} printing ${JSON.stringify(dumpmachine.trim())}`, () => {
      const got = toolchainOf(cc, dumpmachine);
      if (expected instanceof RegExp) {
        assert.ok('unusable' in got, JSON.stringify(got));
        assert.match(got.unusable, expected);
      } else {
        assert.deepEqual(got, expected);
      }
    });
  }

  it('every family links kernel32 explicitly and keeps the build time out of the DLL', () => {
    const cases = [
      commandLine('x86_64-w64-mingw32-gcc', { family: 'gcc', target: undefined }, ['a.c'], 'o.dll', 't'),
      commandLine('clang', { family: 'clang-mingw', target: '--target=x86_64-w64-windows-gnu' }, ['a.c'], 'o.dll', 't'),
      commandLine('clang', { family: 'clang-msvc', target: undefined }, ['a.c'], 'o.dll', 't'),
      commandLine('cl', { family: 'cl', target: undefined }, ['a.c'], 'o.dll', 't'),
    ];
    for (const args of cases) {
      assert.ok(args.includes('-lkernel32') || args.includes('kernel32.lib'), args.join(' '));
      assert.ok(args.some((a) => a === '-Wl,--no-insert-timestamp' || a === '-Wl,/Brepro' || a === '/Brepro'), args.join(' '));
    }
    assert.ok(cases[1]!.includes('--target=x86_64-w64-windows-gnu'));
    assert.ok(!cases[2]!.some((a) => a.startsWith('--target=')), 'the MSVC-ABI clang keeps its own target');
  });
});

describe('build.js with a compiler that fails', { skip: process.platform === 'win32' ? 'the fake compiler is a POSIX shell script' : false }, () => {
  /** A fake mingw gcc that reports a Windows target and then fails every compile. */
  function fakeCompilerDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'tpmutex-fake-cc-'));
    const cc = join(dir, 'x86_64-w64-mingw32-gcc');
    writeFileSync(cc, '#!/bin/sh\nif [ "$1" = "-dumpmachine" ]; then echo x86_64-w64-mingw32; exit 0; fi\necho "fake: error" >&2\nexit 1\n');
    chmodSync(cc, 0o755);
    return dir;
  }
  const builds = (): string[] => (existsSync(PREBUILDS) ? readdirSync(PREBUILDS).filter((n) => n.startsWith('.build-')) : []);

  it('auto-detected: a warning, exit 0, no scratch folder left', (t) => {
    const dir = fakeCompilerDir();
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const before = builds();
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${dir}${delimiter}${process.env['PATH'] ?? ''}` };
    delete env['TPMUTEX_CC'];
    delete env['CI'];
    const r = spawnSync(process.execPath, [BUILD], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: native shim: not built .*x86_64-w64-mingw32-gcc: the build failed/);
    assert.match(r.stderr, /emulated engine needs no DLL/);
    assert.deepEqual(builds(), before);
  });

  it('chosen with TPMUTEX_CC (or CI=true): exit 1, no scratch folder left', (t) => {
    const dir = fakeCompilerDir();
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const before = builds();
    for (const extra of [{ TPMUTEX_CC: join(dir, 'x86_64-w64-mingw32-gcc') }, { CI: 'true', PATH: `${dir}${delimiter}${process.env['PATH'] ?? ''}` }]) {
      const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
      if (!('TPMUTEX_CC' in extra)) delete env['TPMUTEX_CC'];
      const r = spawnSync(process.execPath, [BUILD], { env, encoding: 'utf8' });
      assert.equal(r.status, 1, `${JSON.stringify(extra)}: ${r.stderr}`);
      assert.match(r.stderr, /native shim: not built/);
    }
    assert.deepEqual(builds(), before);
  });

  it('a named compiler that does not exist: exit 1 with the hint', () => {
    const r = spawnSync(process.execPath, [BUILD], { env: { ...process.env, TPMUTEX_CC: 'no-such-compiler-tpmutex' }, encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no-such-compiler-tpmutex: not found/);
  });
});

import type { NativeDrainRequest } from '../shutdown/requests.js';
import { EngineError } from './errors.js';
import type { Engine, EngineKind, EngineOptions } from './types.js';

export type EngineChoice = EngineKind | 'auto';

/**
 * The only place that looks at the platform. win32 is the default on Windows, the
 * emulated engine everywhere else; both load lazily so koffi is never imported on
 * a platform that does not use it.
 */
export async function selectEngine(choice: EngineChoice, options: EngineOptions, platform: NodeJS.Platform = process.platform): Promise<Engine> {
  const kind: EngineKind = choice === 'auto' ? (platform === 'win32' ? 'win32' : 'emulated') : choice;
  if (kind === 'win32') {
    if (platform !== 'win32') {
      throw new EngineError('engine_unavailable', `ENGINE=win32 needs Windows (this is ${platform}); use ENGINE=emulated, or run under Wine with npm run wine:start`);
    }
    const { Win32Engine } = await import('./win32/engine.js');
    return new Win32Engine(options);
  }
  const { EmulatedEngine } = await import('./emulated/engine.js');
  return new EmulatedEngine(options);
}

export interface NativeDrainOptions {
  readonly name: string;
  readonly closeBoundMs: number;
  readonly shutdownBoundMs: number;
}

/**
 * The named drain event and the console control handler, on Windows (undefined
 * elsewhere), whichever engine runs: they live in the same DLL as the win32 engine's
 * shim but do not need the engine. Throws EngineError('engine_unavailable') when koffi
 * or the DLL cannot be loaded, and Win32Error when the event cannot be created.
 */
export async function openNativeDrainRequest(options: NativeDrainOptions, platform: NodeJS.Platform = process.platform): Promise<NativeDrainRequest | undefined> {
  if (platform !== 'win32') return undefined;
  let module: typeof import('./win32/drain-request.js');
  try {
    module = await import('./win32/drain-request.js');
  } catch (err) {
    throw new EngineError('engine_unavailable', `cannot load koffi: ${(err as Error).message}`, { cause: err });
  }
  const request = module.openDrainRequest({ ...options, consoleHandler: true });
  return request;
}

/**
 * Command-line parsing on node's util.parseArgs: the flags every command shares
 * (--url, --token, --json, --help), each command's own, and integer values checked
 * once here so commands get numbers.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

const COMMON: OptionSpecs = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

export interface Parsed {
  url: string;
  token: string | undefined;
  json: boolean;
  help: boolean;
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
}

/** Where the service is and how to authenticate: flags first, then TPMUTEX_URL / TPMUTEX_TOKEN. */
export interface Environment {
  TPMUTEX_URL?: string | undefined;
  TPMUTEX_TOKEN?: string | undefined;
}

export function parseCommand(command: string, args: string[], own: OptionSpecs, env: Environment): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...COMMON, ...own }, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs' messages end with advice about '--' that does not apply here.
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''), command);
  }
  const { url, token, json, help, ...values } = parsed.values;
  return {
    url: (typeof url === 'string' ? url : undefined) ?? nonEmpty(env.TPMUTEX_URL) ?? DEFAULT_URL,
    token: (typeof token === 'string' ? token : undefined) ?? nonEmpty(env.TPMUTEX_TOKEN),
    json: json === true,
    help: help === true,
    positionals: parsed.positionals,
    values: values as Parsed['values'],
  };
}

const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : value);

/** A non-negative integer flag (of `unit`), or undefined when absent. */
export function integerFlag(parsed: Parsed, flag: string, command: string, unit = 'milliseconds'): number | undefined {
  const raw = parsed.values[flag];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new UsageError(`--${flag} takes a non-negative integer (${unit}), not ${JSON.stringify(raw)}`, command);
  }
  return Number(raw);
}

export function stringFlag(parsed: Parsed, flag: string): string | undefined {
  const raw = parsed.values[flag];
  return typeof raw === 'string' ? raw : undefined;
}

export function booleanFlag(parsed: Parsed, flag: string): boolean {
  return parsed.values[flag] === true;
}

/** Exactly the positionals a command takes, named for the message when they are not there. */
export function positionals(parsed: Parsed, names: string[], command: string): string[] {
  if (parsed.positionals.length !== names.length) {
    const wanted = names.length === 0 ? 'no arguments' : names.map((n) => `<${n}>`).join(' ');
    throw new UsageError(`${command} takes ${wanted}, got ${parsed.positionals.length === 0 ? 'none' : parsed.positionals.map((p) => JSON.stringify(p)).join(' ')}`, command);
  }
  return parsed.positionals;
}

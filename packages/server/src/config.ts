/**
 * `sideloop.config.js` / `.ts`: loading and validation. Every problem is reported with one message formula that
 * names the bad key: "Invalid config: `loops.mcp.expose` must be an array of function names, got `3`".
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';

export type RestartPolicy = 'never' | 'on-failure' | 'always';

export interface ServiceConfig {
  /** Exported function of the loop module started with `loop.spawn`. */
  fn: string;
  /** @default [] */
  args?: unknown[];
  /** @default 'never' */
  restart?: RestartPolicy;
  /** @default Infinity (with a restart policy) */
  maxRestarts?: number;
}

export interface LoopConfig {
  /** Path of the loop module, relative to the config file. */
  module: string;
  /** @default [] */
  initArgs?: unknown[];
  /** @default 30000 */
  readyTimeout?: number;
  /** Functions callable over HTTP and Socket.IO. @default [] */
  expose?: string[];
  /** Services started once the loop is ready. @default [] */
  services?: ServiceConfig[];
}

export interface PoolConfig {
  /** Path of the loop module each thread runs, relative to the config file. */
  module: string;
  /** @default [] */
  initArgs?: unknown[];
  /** @default 30000 */
  readyTimeout?: number;
  /** @default cores - 1, at least 1 */
  maxThreads?: number;
  /** @default the pool's: min(maxThreads, max(1, floor(cores / 2))) */
  minThreads?: number;
  /** Tasks waiting for a thread; past it submissions answer 503 `QUEUE_FULL` with `Retry-After`. @default 1000 */
  maxQueue?: number;
  /** @default [] */
  expose?: string[];
}

export interface RelayConfig {
  /** Loop event names sent on to Socket.IO clients. */
  events: string[];
  /** Every client, or one room. @default 'all' */
  to?: string;
}

export interface SideloopConfig {
  loops?: Record<string, LoopConfig>;
  pools?: Record<string, PoolConfig>;
  relay?: RelayConfig;
}

/** A validated config: module paths are absolute file URLs, every default is filled in. */
export interface ResolvedConfig {
  loops: Array<Required<Omit<LoopConfig, 'module' | 'services'>> & { name: string; module: URL; services: Array<Required<ServiceConfig>> }>;
  pools: Array<Required<Omit<PoolConfig, 'module' | 'maxThreads' | 'minThreads'>> & { name: string; module: URL; maxThreads: number | undefined; minThreads: number | undefined }>;
  relay: Required<RelayConfig>;
  /** Where the config came from (a path, or 'built-in demo'). */
  source: string;
}

/** A config that cannot be used; `key` is the dotted path of the offending entry. */
export class ConfigError extends Error {
  readonly code = 'SIDELOOP_CONFIG';
  readonly key: string;
  constructor(key: string, expectation: string, value: unknown, options?: ErrorOptions) {
    super(`Invalid config: \`${key}\` ${expectation}, got \`${show(value)}\``, options);
    this.name = 'ConfigError';
    this.key = key;
  }
}

/** Names usable in URLs and rooms. */
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** Function names: JavaScript identifiers. */
const FN = /^[A-Za-z_$][\w$]*$/;
const RESERVED_FNS = new Set(['init', 'dispose', 'then', 'constructor', '__proto__', 'prototype']);
const RESERVED_EVENT = /^(task:|service:|loop:)|^(crash|error|close|callbackError|connect|disconnect|connect_error)$/;

function show(value: unknown): string {
  if (typeof value === 'string') return value;
  return inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 5, maxStringLength: 60 });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Tasks a server pool queues by default: enough for bursts, bounded so overload answers 503 instead of growing. */
export const DEFAULT_MAX_QUEUE = 1000;

function checkKeys(key: string, value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const name of Object.keys(value)) {
    if (!allowed.includes(name)) throw new ConfigError(`${key}.${name}`, `is not a known key (expected one of ${allowed.join(', ')})`, value[name]);
  }
}

function positiveInt(key: string, value: unknown, fallback: number | undefined, { allowZero = false } = {}): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new ConfigError(key, `must be ${allowZero ? 'a non-negative' : 'a positive'} integer`, value);
  }
  return value;
}

function array(key: string, value: unknown, what = 'an array'): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ConfigError(key, `must be ${what}`, value);
  return value;
}

function fnNames(key: string, value: unknown): string[] {
  const names = array(key, value, 'an array of function names');
  names.forEach((name, i) => {
    if (typeof name !== 'string' || !FN.test(name)) throw new ConfigError(`${key}[${i}]`, 'must be a function name', name);
    if (RESERVED_FNS.has(name)) throw new ConfigError(`${key}[${i}]`, 'must not be a reserved name (init, dispose)', name);
  });
  return [...new Set(names as string[])];
}

function moduleUrl(key: string, value: unknown, baseDir: string): URL {
  if (value instanceof URL) return value;
  if (typeof value !== 'string' || value === '') throw new ConfigError(key, 'must be a path to the loop module', value);
  const file = isAbsolute(value) ? value : resolve(baseDir, value);
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new ConfigError(key, `must name an existing file (relative to ${baseDir})`, value);
  }
  return pathToFileURL(file);
}

function service(key: string, value: unknown): Required<ServiceConfig> {
  if (!isPlainObject(value)) throw new ConfigError(key, 'must be an object like { fn, args, restart }', value);
  checkKeys(key, value, ['fn', 'args', 'restart', 'maxRestarts']);
  if (typeof value.fn !== 'string' || !FN.test(value.fn) || RESERVED_FNS.has(value.fn)) {
    throw new ConfigError(`${key}.fn`, 'must be the name of an exported function', value.fn);
  }
  const restart = value.restart ?? 'never';
  if (restart !== 'never' && restart !== 'on-failure' && restart !== 'always') {
    throw new ConfigError(`${key}.restart`, "must be 'never', 'on-failure' or 'always'", restart);
  }
  let maxRestarts = Infinity;
  if (value.maxRestarts !== undefined && value.maxRestarts !== Infinity) {
    maxRestarts = positiveInt(`${key}.maxRestarts`, value.maxRestarts, undefined, { allowZero: true })!;
  }
  return { fn: value.fn, args: array(`${key}.args`, value.args), restart, maxRestarts };
}

function entries(key: string, value: unknown): Array<[string, Record<string, unknown>]> {
  if (value === undefined) return [];
  if (!isPlainObject(value)) throw new ConfigError(key, 'must be an object mapping names to definitions', value);
  return Object.entries(value).map(([name, def]) => {
    if (!NAME.test(name)) throw new ConfigError(`${key}.${name}`, 'must be named with letters, digits, _ or - (at most 64)', name);
    if (!isPlainObject(def)) throw new ConfigError(`${key}.${name}`, 'must be an object like { module, expose }', def);
    return [name, def];
  });
}

/** Validates a config object; relative module paths resolve against `baseDir`. Throws `ConfigError`. */
export function validateConfig(config: unknown, baseDir: string, source = baseDir): ResolvedConfig {
  if (!isPlainObject(config)) throw new ConfigError('default export', 'must be an object like { loops, pools, relay }', config);
  checkKeys('config', config, ['loops', 'pools', 'relay']);
  const names = new Set<string>();
  const loops = entries('loops', config.loops).map(([name, def]) => {
    const key = `loops.${name}`;
    checkKeys(key, def, ['module', 'initArgs', 'readyTimeout', 'expose', 'services']);
    names.add(name);
    return {
      name,
      module: moduleUrl(`${key}.module`, def.module, baseDir),
      initArgs: array(`${key}.initArgs`, def.initArgs),
      readyTimeout: positiveInt(`${key}.readyTimeout`, def.readyTimeout, 30_000)!,
      expose: fnNames(`${key}.expose`, def.expose),
      services: array(`${key}.services`, def.services, 'an array of services').map((s, i) => service(`${key}.services[${i}]`, s)),
    };
  });
  const pools = entries('pools', config.pools).map(([name, def]) => {
    const key = `pools.${name}`;
    checkKeys(key, def, ['module', 'initArgs', 'readyTimeout', 'maxThreads', 'minThreads', 'maxQueue', 'expose']);
    if (names.has(name)) throw new ConfigError(key, 'must not reuse the name of a loop', name);
    names.add(name);
    const maxThreads = positiveInt(`${key}.maxThreads`, def.maxThreads, undefined);
    const minThreads = positiveInt(`${key}.minThreads`, def.minThreads, undefined, { allowZero: true });
    if (maxThreads !== undefined && minThreads !== undefined && minThreads > maxThreads) {
      throw new ConfigError(`${key}.minThreads`, `must be at most maxThreads (${maxThreads})`, minThreads);
    }
    return {
      name,
      module: moduleUrl(`${key}.module`, def.module, baseDir),
      initArgs: array(`${key}.initArgs`, def.initArgs),
      readyTimeout: positiveInt(`${key}.readyTimeout`, def.readyTimeout, 30_000)!,
      maxThreads,
      minThreads,
      maxQueue: positiveInt(`${key}.maxQueue`, def.maxQueue, DEFAULT_MAX_QUEUE, { allowZero: true })!,
      expose: fnNames(`${key}.expose`, def.expose),
    };
  });
  if (names.size === 0) throw new ConfigError('loops', 'must define at least one loop or pool', config.loops);
  return { loops, pools, relay: relay(config.relay), source };
}

function relay(value: unknown): Required<RelayConfig> {
  if (value === undefined) return { events: [], to: 'all' };
  if (!isPlainObject(value)) throw new ConfigError('relay', 'must be an object like { events, to }', value);
  checkKeys('relay', value, ['events', 'to']);
  const events = array('relay.events', value.events, 'an array of event names');
  events.forEach((event, i) => {
    if (typeof event !== 'string' || event === '') throw new ConfigError(`relay.events[${i}]`, 'must be an event name', event);
    if (RESERVED_EVENT.test(event)) throw new ConfigError(`relay.events[${i}]`, 'must not be a reserved event name', event);
  });
  const to = value.to ?? 'all';
  if (typeof to !== 'string' || to === '' || to.startsWith('task:')) {
    throw new ConfigError('relay.to', "must be 'all' or a room name", to);
  }
  return { events: [...new Set(events as string[])], to };
}

/** Imports a config file (its default export) and validates it. */
export async function loadConfig(file: string): Promise<ResolvedConfig> {
  const path = resolve(file);
  if (!existsSync(path) || !statSync(path).isFile()) throw new ConfigError('config', 'must be a path to an existing file', file);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError('config', `must be a loadable module (${reason})`, file, { cause: error });
  }
  if (mod.default === undefined) throw new ConfigError('default export', 'must be the config object', undefined);
  return validateConfig(mod.default, dirname(path), path);
}

/** Config files looked for in the working directory when `sideloop serve` is given none. */
export const defaultConfigNames = ['sideloop.config.js', 'sideloop.config.mjs', 'sideloop.config.ts'] as const;

/** The config file in `dir`, if any. */
export function findConfig(dir: string): string | undefined {
  for (const name of defaultConfigNames) {
    const file = resolve(dir, name);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/**
 * `sideloop.config.js` / `.ts`: loading and validation, with the core's option checks. Every problem is reported with
 * the options' formula naming the bad key: "Invalid config: Expected `loops.mcp.expose` to be an array of function
 * names, got `3`".
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SideloopError } from 'sideloop';
import { checkInteger, checkMs, invalid, registerSideloopErrorClass } from 'sideloop/remote';
import { resolveClusterConfig, type ClusterConfig, type ResolvedClusterConfig } from './cluster/cluster-config.ts';
import { hostModule, sourceLoopModule } from './sources/host-module.ts';
import { resolveSource, type ConfigChecks, type ResolvedSource, type SourceConfig } from './sources/source-config.ts';

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
  /** Services started once the loop is ready (and again on each fresh thread after a restart). @default [] */
  services?: ServiceConfig[];
  /** The loop's restart policy (`startLoop`'s `restart`): a crashed thread, failed `init` or health gets a fresh one. @default 'never' */
  restart?: RestartPolicy;
  /** @default Infinity (with a restart policy) */
  maxRestarts?: number;
  /** How often the module's `health()` runs, in ms (0: never). @default 10000 when it exports one */
  healthInterval?: number;
  /** Store every HTTP and Socket.IO submission to it in the cluster (needs `cluster`): it survives restarts and runs on any node that serves it. @default false */
  durable?: boolean;
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
  /** Store every HTTP and Socket.IO submission to it in the cluster (needs `cluster`). @default false */
  durable?: boolean;
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
  /** Queue sources (docs/sources.md): brokers consumed in a loop, each message relayed or handled. */
  sources?: Record<string, SourceConfig>;
  /** Durable tasks and cluster-wide events on Redis (docs/cluster.md, "In the server"); `--cluster URL` sets `redis`. */
  cluster?: ClusterConfig;
}

/** A validated config: module paths are absolute file URLs, every default is filled in. */
export interface ResolvedConfig {
  loops: Array<Required<Omit<LoopConfig, 'module' | 'services' | 'healthInterval'>> & {
    name: string; module: URL; services: Array<Required<ServiceConfig>>; healthInterval: number | undefined;
  }>;
  /** The cluster this server is a node of, if any. */
  cluster?: ResolvedClusterConfig | undefined;
  pools: Array<Required<Omit<PoolConfig, 'module' | 'maxThreads' | 'minThreads'>> & { name: string; module: URL; maxThreads: number | undefined; minThreads: number | undefined }>;
  /** The relay's events include every source's `emit`. */
  relay: Required<RelayConfig>;
  /** In the config's order. Sources without `loop` have a loop of their own in `loops` (after the configured ones). */
  sources: ResolvedSource[];
  /** The built-in demo's producer: publishes a sample item to `source` every `intervalMs` (not a config file key). */
  producer?: { source: string; intervalMs: number } | undefined;
  /** Where the config came from (a path, or 'built-in demo'). */
  source: string;
}

/**
 * A config that cannot be used; `key` is the dotted path of the offending entry. The message is the options' formula
 * after "Invalid config: "; `cause` is the `TypeError` (wrong type) or `RangeError` (out of range) it wraps, as for
 * the options of `startServer`, or the error that kept the file from loading.
 */
export class ConfigError extends SideloopError {
  override readonly code = 'SIDELOOP_CONFIG';
  readonly key: string;
  constructor(key: string, message: string, options?: ErrorOptions) {
    super(`Invalid config: ${message}`, options);
    this.key = key;
  }
}
registerSideloopErrorClass(ConfigError);

/** Names usable in URLs and rooms. */
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** Function names: JavaScript identifiers. */
const FN = /^[A-Za-z_$][\w$]*$/;
const RESERVED_FNS = new Set(['init', 'dispose', 'health', 'then', 'constructor', '__proto__', 'prototype']);
const RESERVED_EVENT = /^(task:|service:|loop:|source:)|^(crash|error|close|callbackError|connect|disconnect|connect_error)$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Tasks a server pool queues by default: enough for bursts, bounded so overload answers 503 instead of growing. */
export const DEFAULT_MAX_QUEUE = 1000;

/** Throws the formula's error for `key`, as a `ConfigError` caused by it. */
function fail(key: string, expected: string, value: unknown, ctor: typeof TypeError = TypeError, options?: ErrorOptions): never {
  const error = invalid(key, expected, value, ctor);
  throw new ConfigError(key, error.message, { cause: options?.cause ?? error });
}

/** Runs one of the core's option checks on `key`, turning what it throws into a `ConfigError`. */
function check<T>(key: string, run: (key: string) => T): T {
  try {
    return run(key);
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) throw new ConfigError(key, error.message, { cause: error });
    throw error;
  }
}

function checkKeys(key: string, value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const name of Object.keys(value)) {
    if (!allowed.includes(name)) {
      const error = new TypeError(`Unknown key \`${key}.${name}\` (expected one of ${allowed.join(', ')})`);
      throw new ConfigError(`${key}.${name}`, error.message, { cause: error });
    }
  }
}

function integer(key: string, value: unknown, min: number, fallback: number | undefined, { allowInfinity = false } = {}): number | undefined {
  return check(key, (k) => checkInteger(k, value, min, { allowInfinity })) ?? fallback;
}

function ms(key: string, value: unknown, fallback: number, { allowZero = false } = {}): number {
  return check(key, (k) => checkMs(k, value, { allowInfinity: true, allowZero })) ?? fallback;
}

function array(key: string, value: unknown, what = 'an array'): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(key, what, value);
  return value;
}

function fnNames(key: string, value: unknown): string[] {
  const names = array(key, value, 'an array of function names');
  names.forEach((name, i) => {
    if (typeof name !== 'string' || !FN.test(name)) fail(`${key}[${i}]`, 'a function name', name);
    if (RESERVED_FNS.has(name)) fail(`${key}[${i}]`, 'a function name other than the reserved init, dispose, health', name);
  });
  return [...new Set(names as string[])];
}

function moduleUrl(key: string, value: unknown, baseDir: string): URL {
  if (value instanceof URL) return value;
  if (typeof value !== 'string' || value === '') fail(key, 'a path to the loop module', value);
  const file = isAbsolute(value) ? value : resolve(baseDir, value);
  if (!existsSync(file) || !statSync(file).isFile()) fail(key, `the path of an existing file (relative to ${baseDir})`, value);
  return pathToFileURL(file);
}

function restartPolicy(key: string, value: unknown): RestartPolicy {
  if (value === undefined) return 'never';
  if (value !== 'never' && value !== 'on-failure' && value !== 'always') fail(key, "one of 'never', 'on-failure', 'always'", value);
  return value;
}

function service(key: string, value: unknown): Required<ServiceConfig> {
  if (!isPlainObject(value)) fail(key, 'an object like { fn, args, restart }', value);
  checkKeys(key, value, ['fn', 'args', 'restart', 'maxRestarts']);
  if (typeof value.fn !== 'string' || !FN.test(value.fn) || RESERVED_FNS.has(value.fn)) {
    fail(`${key}.fn`, 'the name of an exported function', value.fn);
  }
  const restart = restartPolicy(`${key}.restart`, value.restart);
  const maxRestarts = integer(`${key}.maxRestarts`, value.maxRestarts, 0, Infinity, { allowInfinity: true })!;
  return { fn: value.fn, args: array(`${key}.args`, value.args), restart, maxRestarts };
}

function entries(key: string, value: unknown): Array<[string, Record<string, unknown>]> {
  if (value === undefined) return [];
  if (!isPlainObject(value)) fail(key, 'an object mapping names to definitions', value);
  return Object.entries(value).map(([name, def]) => {
    if (!NAME.test(name)) fail(`${key}.${name}`, 'named with letters, digits, _ or - (at most 64)', name);
    if (!isPlainObject(def)) fail(`${key}.${name}`, 'an object like { module, expose }', def);
    return [name, def];
  });
}

/** Validates a config object; relative module paths resolve against `baseDir`. Throws `ConfigError`. */
export function validateConfig(config: unknown, baseDir: string, source = baseDir): ResolvedConfig {
  if (!isPlainObject(config)) fail('default export', 'an object like { loops, pools, relay, sources }', config);
  checkKeys('config', config, ['loops', 'pools', 'relay', 'sources', 'cluster']);
  const names = new Set<string>();
  const loops = entries('loops', config.loops).map(([name, def]) => {
    const key = `loops.${name}`;
    checkKeys(key, def, ['module', 'initArgs', 'readyTimeout', 'expose', 'services', 'restart', 'maxRestarts', 'healthInterval', 'durable']);
    names.add(name);
    return {
      name,
      module: moduleUrl(`${key}.module`, def.module, baseDir),
      initArgs: array(`${key}.initArgs`, def.initArgs),
      readyTimeout: ms(`${key}.readyTimeout`, def.readyTimeout, 30_000),
      expose: fnNames(`${key}.expose`, def.expose),
      services: array(`${key}.services`, def.services, 'an array of services').map((s, i) => service(`${key}.services[${i}]`, s)),
      restart: restartPolicy(`${key}.restart`, def.restart),
      maxRestarts: integer(`${key}.maxRestarts`, def.maxRestarts, 0, Infinity, { allowInfinity: true }) ?? Infinity,
      healthInterval: def.healthInterval === undefined ? undefined : ms(`${key}.healthInterval`, def.healthInterval, 10_000, { allowZero: true }),
      durable: boolean(`${key}.durable`, def.durable),
    };
  });
  const pools = entries('pools', config.pools).map(([name, def]) => {
    const key = `pools.${name}`;
    checkKeys(key, def, ['module', 'initArgs', 'readyTimeout', 'maxThreads', 'minThreads', 'maxQueue', 'expose', 'durable']);
    if (names.has(name)) fail(key, 'a name no loop has', name);
    names.add(name);
    const maxThreads = integer(`${key}.maxThreads`, def.maxThreads, 1, undefined);
    const minThreads = integer(`${key}.minThreads`, def.minThreads, 0, undefined);
    if (maxThreads !== undefined && minThreads !== undefined && minThreads > maxThreads) {
      fail(`${key}.minThreads`, `an integer from 0 to maxThreads (${maxThreads})`, minThreads, RangeError);
    }
    return {
      name,
      module: moduleUrl(`${key}.module`, def.module, baseDir),
      initArgs: array(`${key}.initArgs`, def.initArgs),
      readyTimeout: ms(`${key}.readyTimeout`, def.readyTimeout, 30_000),
      maxThreads,
      minThreads,
      maxQueue: integer(`${key}.maxQueue`, def.maxQueue, 0, DEFAULT_MAX_QUEUE)!,
      expose: fnNames(`${key}.expose`, def.expose),
      durable: boolean(`${key}.durable`, def.durable),
    };
  });
  const loopNames = new Set(loops.map((l) => l.name));
  const sources = entries('sources', config.sources).map(([name, def]) => resolveSource(name, def, loopNames, names, checks));
  if (names.size === 0 && sources.length === 0) fail('loops', 'an object defining at least one loop (or `pools` one pool, or `sources` one source)', config.loops);
  for (const s of sources) {
    if (!s.ownLoop) continue;
    names.add(s.name);
    loops.push({
      name: s.name, module: sourceLoopModule(), initArgs: [], readyTimeout: s.readyTimeout, expose: [], services: [],
      restart: s.restart === 'never' ? 'never' : 'on-failure', maxRestarts: s.maxRestarts, healthInterval: undefined, durable: false,
    });
  }
  // A configured loop that runs sources loads its module with the source service beside it.
  const hosts = new Set(sources.filter((s) => !s.ownLoop).map((s) => s.loop));
  for (const loop of loops) if (hosts.has(loop.name)) loop.module = hostModule(loop.module);
  const relayed = relay(config.relay);
  relayed.events = [...new Set([...relayed.events, ...sources.flatMap((s) => (s.emit === undefined ? [] : [s.emit]))])];
  const cluster = config.cluster === undefined ? undefined : resolveClusterConfig(config.cluster, new Set([...loops, ...pools].map((t) => t.name)), checks);
  return { loops, pools, relay: relayed, sources, source, cluster };
}

function boolean(key: string, value: unknown): boolean {
  if (value !== undefined && typeof value !== 'boolean') fail(key, 'a boolean', value);
  return value === true;
}

/**
 * The config with `sideloop serve --cluster URL --node NAME` applied over its `cluster` section (checked again as a
 * whole), and a check that every `durable` loop or pool has a cluster to be stored in.
 */
export function withCluster(config: ResolvedConfig, override: { redis?: string | undefined; node?: string | undefined; prefix?: string | undefined } = {}): ResolvedConfig {
  let { cluster } = config;
  if (override.redis !== undefined || override.node !== undefined || override.prefix !== undefined) {
    const raw: Record<string, unknown> = cluster
      ? { redis: cluster.redis, prefix: cluster.prefix, ...cluster.timings, ...(cluster.node === undefined ? {} : { node: cluster.node }), ...(cluster.serve ? { serve: cluster.serve } : {}) }
      : {};
    if (override.redis !== undefined) raw.redis = override.redis;
    if (override.node !== undefined) raw.node = override.node;
    if (override.prefix !== undefined) raw.prefix = override.prefix;
    if (raw.redis === undefined) fail('--node', 'given with --cluster (or a `cluster` section in the config)', override.node);
    cluster = resolveClusterConfig(raw, new Set([...config.loops, ...config.pools].map((t) => t.name)), checks);
  }
  if (!cluster) {
    const durable = [...config.loops.map((l) => ['loops', l] as const), ...config.pools.map((p) => ['pools', p] as const)].find(([, t]) => t.durable);
    if (durable) fail(`${durable[0]}.${durable[1].name}.durable`, 'false without a cluster (give --cluster URL or a `cluster` section)', true, RangeError);
  }
  return cluster === config.cluster ? config : { ...config, cluster };
}

/** The config's checks, lent to the sources' (sources/source-config.ts). */
const checks: ConfigChecks = {
  fail,
  check,
  integer,
  ms: (key, value, fallback) => ms(key, value, fallback),
  restartPolicy,
  eventName(key, value) {
    if (typeof value !== 'string' || value === '') fail(key, 'an event name', value);
    if (RESERVED_EVENT.test(value)) fail(key, 'an event name sideloop does not reserve', value);
    return value;
  },
  fnName(key, value) {
    if (typeof value !== 'string' || !FN.test(value) || RESERVED_FNS.has(value)) fail(key, 'the name of an exported function', value);
    return value;
  },
};

function relay(value: unknown): Required<RelayConfig> {
  if (value === undefined) return { events: [], to: 'all' };
  if (!isPlainObject(value)) fail('relay', 'an object like { events, to }', value);
  checkKeys('relay', value, ['events', 'to']);
  const events = array('relay.events', value.events, 'an array of event names');
  events.forEach((event, i) => {
    if (typeof event !== 'string' || event === '') fail(`relay.events[${i}]`, 'an event name', event);
    if (RESERVED_EVENT.test(event)) fail(`relay.events[${i}]`, 'an event name sideloop does not reserve', event);
  });
  const to = value.to ?? 'all';
  if (typeof to !== 'string' || to === '' || to.startsWith('task:')) fail('relay.to', "'all' or a room name", to);
  return { events: [...new Set(events as string[])], to };
}

/** Imports a config file (its default export) and validates it. */
export async function loadConfig(file: string): Promise<ResolvedConfig> {
  const path = resolve(file);
  if (!existsSync(path) || !statSync(path).isFile()) fail('config', 'the path of an existing file', file);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    fail('config', `a loadable module (${reason})`, file, TypeError, { cause: error });
  }
  if (mod.default === undefined) fail('default export', 'the config object', undefined);
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

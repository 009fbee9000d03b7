/**
 * The options of `startCluster()` and of `cluster.submit()`, checked with the library's one message formula
 * (options.ts): a wrong type is a TypeError, a value out of range a RangeError, each naming the option.
 */
import { hostname } from 'node:os';
import type { RedisOptions } from 'ioredis';
import type { Task } from '../call/task.ts';
import { checkBoolean, checkInteger, checkMs, checkObject, invalid, resolveRetryDelay, type CallOptions, type RetryDelay } from '../options.ts';

/** What a node can run jobs on: a `Loop` or a `Pool` (anything with their `submit` and `with`). */
export interface ServeTarget {
  readonly name: string;
  /** The functions the module exports, once known (`Loop` and `Pool` have it). */
  readonly functions?: readonly string[];
  /** A pool's largest size: the default concurrency of its jobs. */
  readonly maxThreads?: number;
  submit(fn: any, ...args: any[]): Task<any>;
  with(options: CallOptions): ServeTarget;
}

export interface ClusterOptions {
  /** Where Redis is: `redis://[user:password@]host:port[/db]`, or an ioredis options object. */
  redis: string | RedisOptions;
  /** Every key and queue of this cluster is under it; clusters with different prefixes share a Redis without meeting. @default 'sideloop' */
  prefix?: string;
  /** This process's name among the nodes. @default `<hostname>:<pid>` */
  node?: string;
  /**
   * The local loops and pools whose functions this node runs for the cluster, by the name jobs use:
   * `{ cpu: pool }`, or `{ cpu: { target: pool, concurrency: 8 } }`. Concurrency defaults to a pool's `maxThreads`
   * and to 1 for a loop (raise it for a loop whose functions mostly wait).
   */
  serve?: Record<string, ServeTarget | { target: ServeTarget; concurrency?: number }>;
  /** How often (ms) the nodes look for jobs whose node stopped (BullMQ's stalled-job check). @default 30000 */
  stalledInterval?: number;
  /** How many times a job may be taken back from a node that stopped before it fails with `JobLostError`. @default 3 */
  maxStalledCount?: number;
  /** How long (ms) a running job's lock lasts without renewal; it is renewed every half of it. @default `stalledInterval` */
  lockDuration?: number;
  /** How long (ms) a call waits on a Redis that answers nothing before it fails with `ClusterUnavailableError`. @default 1000 */
  commandTimeout?: number;
  /** How long (ms) `startCluster` waits for Redis before it fails with `ClusterUnavailableError` (at once when Redis refuses the credentials). @default 10000 */
  connectTimeout?: number;
  /** How often (ms) this node writes its heartbeat; a node is shown dead after three missed ones. @default 5000 */
  heartbeatInterval?: number;
  /**
   * How long finished tasks stay in Redis, for `cluster.job(id)` and `jobId` idempotency: `age` in ms and at most
   * `count` per loop and outcome (the oldest go first). @default { age: 86400000, count: 100000 }
   */
  keep?: { age?: number; count?: number };
  /**
   * Keep each `submit`'s stack, to append to the task's error stack on this node (after `<sideloop call site>`), as
   * loops do. Off by default, as for pools: a stack costs the submitting thread 5-10 µs, about a tenth of what a
   * durable task costs it in all (bench/cluster.js). @default false
   */
  captureCallSites?: boolean;
}

export interface SubmitOptions {
  /** Tries in all (1: no retry). `CancelledError`, `TimeoutError`, `UnknownFunctionError` and `DeadLetterError` are never retried. @default 1 */
  maxAttempts?: number;
  /** Ms before a retry: a number, or `{ initial, max, factor, jitter }`. @default { initial: 1000, max: 60000, factor: 2, jitter: 0 } */
  retryDelay?: CallOptions['retryDelay'];
  /** Ms one run may take, from its start on the node that runs it: then it fails with `TimeoutError` and its signal is aborted. */
  timeout?: number;
  /** The task's id: a second submission with the same id is the same task (refused with other arguments). No `:`, not an integer. */
  jobId?: string;
  /** Ms to wait before the task may start. @default 0 */
  delay?: number;
}

export interface ResolvedClusterOptions {
  redis: string | RedisOptions;
  prefix: string;
  node: string;
  serve: Array<{ loop: string; target: ServeTarget; concurrency: number }>;
  stalledInterval: number;
  maxStalledCount: number;
  lockDuration: number;
  commandTimeout: number;
  connectTimeout: number;
  heartbeatInterval: number;
  keep: { age: number; count: number };
  captureCallSites: boolean;
}

export interface ResolvedSubmitOptions {
  maxAttempts: number;
  retryDelay: RetryDelay | undefined;
  timeout: number | undefined;
  jobId: string | undefined;
  delay: number | undefined;
}

const CLUSTER_KEYS = new Set(['redis', 'prefix', 'node', 'serve', 'stalledInterval', 'maxStalledCount', 'lockDuration', 'commandTimeout',
  'connectTimeout', 'heartbeatInterval', 'keep', 'captureCallSites']);
const SUBMIT_KEYS = new Set(['maxAttempts', 'retryDelay', 'timeout', 'jobId', 'delay']);

/** A loop name as jobs carry it: the queue's name in Redis. */
export function checkLoopName(key: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(key, 'a non-empty string', value);
  if (value.includes(':') || value.startsWith('~')) throw invalid(key, "a name without ':' that does not start with '~'", value, RangeError);
  return value;
}

function checkName(key: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw invalid(key, 'a non-empty string', value);
  return value;
}

function checkTarget(key: string, value: unknown): ServeTarget {
  const target = value as Partial<ServeTarget> | null;
  if (typeof target !== 'object' || target === null || typeof target.submit !== 'function' || typeof target.with !== 'function') {
    throw invalid(key, 'a Loop or a Pool', value);
  }
  return target as ServeTarget;
}

/** The default waits on Redis, for the server's own connections to the cluster's Redis too. */
export const REDIS_WAIT_DEFAULTS = { commandTimeout: 1000, connectTimeout: 10_000 } as const;

export function resolveClusterOptions(input: unknown): ResolvedClusterOptions {
  if (input === undefined) throw new TypeError('Expected `options` to be an object with `redis`, got `undefined`');
  const options = checkObject('options', input);
  for (const key of Object.keys(options)) {
    if (!CLUSTER_KEYS.has(key)) throw new TypeError(`Unknown option \`${key}\``);
  }
  const { redis } = options;
  if (typeof redis === 'string') {
    if (!/^rediss?:\/\//.test(redis)) throw invalid('redis', "a URL like 'redis://127.0.0.1:6379' or an ioredis options object", redis, RangeError);
  } else if (typeof redis !== 'object' || redis === null || Array.isArray(redis)) {
    throw invalid('redis', "a URL like 'redis://127.0.0.1:6379' or an ioredis options object", redis);
  }
  const serve = Object.entries(checkObject('serve', options.serve)).map(([loop, entry]) => {
    checkLoopName(`serve.${loop}`, loop);
    const given = entry as { target?: unknown; concurrency?: unknown } | null;
    const wrapped = typeof given === 'object' && given !== null && 'target' in given && typeof (given as ServeTarget).submit !== 'function';
    const target = checkTarget(wrapped ? `serve.${loop}.target` : `serve.${loop}`, wrapped ? given.target : entry);
    const concurrency = wrapped ? checkInteger(`serve.${loop}.concurrency`, given.concurrency, 1) : undefined;
    const size = typeof target.maxThreads === 'number' ? target.maxThreads : 1;
    return { loop, target, concurrency: concurrency ?? size };
  });
  const stalledInterval = checkMs('stalledInterval', options.stalledInterval) ?? 30_000;
  const keep = checkObject('keep', options.keep);
  for (const key of Object.keys(keep)) {
    if (key !== 'age' && key !== 'count') throw new TypeError(`Unknown option \`keep.${key}\``);
  }
  return {
    redis: redis,
    prefix: checkName('prefix', options.prefix) ?? 'sideloop',
    node: checkName('node', options.node) ?? `${hostname()}:${process.pid}`,
    serve,
    stalledInterval,
    maxStalledCount: checkInteger('maxStalledCount', options.maxStalledCount, 0) ?? 3,
    lockDuration: checkMs('lockDuration', options.lockDuration) ?? stalledInterval,
    commandTimeout: checkMs('commandTimeout', options.commandTimeout) ?? REDIS_WAIT_DEFAULTS.commandTimeout,
    connectTimeout: checkMs('connectTimeout', options.connectTimeout) ?? REDIS_WAIT_DEFAULTS.connectTimeout,
    heartbeatInterval: checkMs('heartbeatInterval', options.heartbeatInterval) ?? 5000,
    keep: { age: checkMs('keep.age', keep.age) ?? 86_400_000, count: checkInteger('keep.count', keep.count, 1) ?? 100_000 },
    captureCallSites: checkBoolean('captureCallSites', options.captureCallSites) ?? false,
  };
}

export function resolveSubmitOptions(input: unknown): ResolvedSubmitOptions {
  const options = checkObject('options', input);
  for (const key of Object.keys(options)) {
    if (!SUBMIT_KEYS.has(key)) throw new TypeError(`Unknown submit option \`${key}\``);
  }
  const jobId = checkName('jobId', options.jobId);
  if (jobId !== undefined && (jobId.includes(':') || String(Number.parseInt(jobId, 10)) === jobId)) {
    throw invalid('jobId', "a string without ':' that is not an integer", jobId, RangeError);
  }
  const maxAttempts = checkInteger('maxAttempts', options.maxAttempts, 1) ?? 1;
  return {
    maxAttempts,
    retryDelay: maxAttempts > 1 || options.retryDelay !== undefined ? resolveRetryDelay(options.retryDelay) : undefined,
    timeout: checkMs('timeout', options.timeout),
    jobId,
    delay: checkMs('delay', options.delay, { allowZero: true }),
  };
}

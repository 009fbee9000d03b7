/**
 * The `cluster` section of a server config (docs/cluster.md, "In the server"): where Redis is, this node's name, the
 * key prefix, which loops and pools this node runs durable tasks for, and the cluster's timings. Checked key by key
 * with the config's formula (the core's option checks: a wrong type is a TypeError, a value out of range a
 * RangeError, an unknown key refused); `startCluster` meets Redis itself when the server starts.
 */
import type { ClusterOptions } from 'sideloop/cluster';
import { checkInteger, checkMs } from 'sideloop/remote';
import type { ConfigChecks } from '../sources/source-config.ts';

/**
 * The cluster's timings, as `startCluster` takes them (their docs are the library's). `commandTimeout` also bounds
 * a request that waits on Redis: it then fails with 503 `SIDELOOP_CLUSTER_UNAVAILABLE`; a `connectTimeout` that runs
 * out makes `sideloop serve` exit with one line.
 */
export type ClusterTimings = Omit<ClusterOptions, 'redis' | 'prefix' | 'node' | 'serve'>;

/** The `cluster` section as a config file gives it: `startCluster`'s options, with names in `serve`. */
export interface ClusterConfig extends ClusterTimings {
  /** Redis: `redis://[user:password@]host:port[/db]` (or `rediss://`). `sideloop serve --cluster URL` sets or overrides it. */
  redis: string;
  /** This server's name among the nodes; `--node NAME` sets or overrides it. @default `<hostname>:<pid>` */
  node?: string;
  /** Every key, queue and Socket.IO stream of the cluster is under it. @default 'sideloop' */
  prefix?: string;
  /** The loops and pools of this config whose durable tasks this node runs. @default every loop and pool */
  serve?: string[];
}

/** A checked `cluster` section: the options of `startCluster` but `serve` (names here, targets at start). */
export interface ResolvedClusterConfig {
  redis: string;
  node: string | undefined;
  prefix: string;
  /** Undefined: every loop and pool. */
  serve: string[] | undefined;
  timings: ClusterTimings;
}

const KEYS = ['redis', 'node', 'prefix', 'serve', 'stalledInterval', 'maxStalledCount', 'lockDuration', 'commandTimeout', 'connectTimeout',
  'heartbeatInterval', 'keep'] as const;
const MS_KEYS = ['stalledInterval', 'lockDuration', 'commandTimeout', 'connectTimeout', 'heartbeatInterval'] as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function name(key: string, value: unknown, c: ConfigChecks): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') c.fail(key, 'a non-empty string', value);
  if (value.includes(':') && key.endsWith('prefix')) c.fail(key, "a name without ':'", value, RangeError);
  return value;
}

/**
 * Checks `cluster` (after the `--cluster` and `--node` overrides were merged onto it). `names` are the config's loops
 * and pools, which `serve` may list.
 */
export function resolveClusterConfig(value: unknown, names: ReadonlySet<string>, c: ConfigChecks): ResolvedClusterConfig {
  if (!isPlainObject(value)) c.fail('cluster', "an object like { redis: 'redis://127.0.0.1:6379', node }", value);
  for (const key of Object.keys(value)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      const error = new TypeError(`Unknown key \`cluster.${key}\` (expected one of ${KEYS.join(', ')})`);
      c.check(`cluster.${key}`, () => {
        throw error;
      });
    }
  }
  const { redis } = value;
  if (typeof redis !== 'string') c.fail('cluster.redis', "a URL like 'redis://127.0.0.1:6379'", redis);
  if (!/^rediss?:\/\/[^\s]+$/.test(redis)) c.fail('cluster.redis', "a URL like 'redis://127.0.0.1:6379'", redis, RangeError);
  let serve: string[] | undefined;
  if (value.serve !== undefined) {
    if (!Array.isArray(value.serve)) c.fail('cluster.serve', 'an array of loop and pool names', value.serve);
    serve = value.serve.map((entry: unknown, i) => {
      if (typeof entry !== 'string' || !names.has(entry)) c.fail(`cluster.serve[${i}]`, `the name of a loop or pool of this config (${[...names].join(', ')})`, entry, typeof entry === 'string' ? RangeError : TypeError);
      return entry;
    });
  }
  const timings: ResolvedClusterConfig['timings'] = {};
  for (const key of MS_KEYS) {
    const ms = c.check(`cluster.${key}`, (k) => checkMs(k, value[key]));
    if (ms !== undefined) timings[key] = ms;
  }
  const maxStalledCount = c.check('cluster.maxStalledCount', (k) => checkInteger(k, value.maxStalledCount, 0));
  if (maxStalledCount !== undefined) timings.maxStalledCount = maxStalledCount;
  if (value.keep !== undefined) {
    if (!isPlainObject(value.keep)) c.fail('cluster.keep', 'an object like { age, count }', value.keep);
    const keep: { age?: number; count?: number } = {};
    for (const key of Object.keys(value.keep)) {
      if (key !== 'age' && key !== 'count') c.fail(`cluster.keep.${key}`, 'absent (the keys are age and count)', value.keep[key]);
    }
    const age = c.check('cluster.keep.age', (k) => checkMs(k, (value.keep as Record<string, unknown>).age));
    const count = c.check('cluster.keep.count', (k) => checkInteger(k, (value.keep as Record<string, unknown>).count, 1));
    if (age !== undefined) keep.age = age;
    if (count !== undefined) keep.count = count;
    timings.keep = keep;
  }
  return {
    redis,
    node: name('cluster.node', value.node, c),
    prefix: name('cluster.prefix', value.prefix, c) ?? 'sideloop',
    serve,
    timings,
  };
}

/** A Redis URL without its password, for messages. */
export function redacted(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

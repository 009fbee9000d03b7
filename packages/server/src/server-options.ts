/**
 * Options of `startServer`, validated with the core's checks and their formula: "Expected `port` to be …, got `…`";
 * a wrong type is a TypeError, a number out of range (NaN included) a RangeError.
 */
import { checkInteger, checkObject, invalid } from 'sideloop/remote';
import { TOKEN_PATTERN } from './auth.ts';
import type { ResolvedConfig } from './config.ts';

export interface ServerOptions {
  /** A config file path, a resolved config, or nothing for the built-in demo. */
  config?: string | ResolvedConfig;
  /** 0 picks a free port. @default 7420 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /**
   * Required on any host but a loopback address (127.0.0.0/8, ::1, localhost); checked on HTTP and on every Socket.IO
   * connection. Visible ASCII without spaces, at least 8 characters. @default undefined
   */
  token?: string;
  /** Largest accepted request body, in bytes (also the largest Socket.IO message). @default 1048576 */
  bodyLimit?: number;
  /** Requests per client (IP) per window, or `false` to turn limiting off. @default { max: 1000, timeWindow: 10000 } */
  rateLimit?: { max: number; timeWindow: number } | false;
  /** Milliseconds a client has to send a whole request, headers and body; past it the server answers 408. @default 30000 */
  requestTimeout?: number;
  /** Settled tasks kept for `GET /api/tasks/:id`. @default 1000 */
  keepTasks?: number;
  /** Bytes of values, errors and progress kept for settled tasks; the oldest are forgotten first. @default 67108864 (64 MiB) */
  keepTaskBytes?: number;
  /**
   * Largest task value, in bytes of JSON, that is kept for `GET /api/tasks/:id` and sent in `task:done`; a larger one
   * answers `valueOmitted: { bytes }` there (`?wait=1` always answers the whole value). @default 65536 (64 KiB)
   */
  maxValueBytes?: number;
  /** Bytes of relayed packets kept for Socket.IO connection state recovery; the oldest are forgotten first. @default 16777216 (16 MiB) */
  recoveryBytes?: number;
  /** Bytes that may wait to be sent to one Socket.IO client; a client over it (not reading) is disconnected. @default 8388608 (8 MiB) */
  clientBufferBytes?: number;
  /** Where the server logs a line (a client cut off, a task it cancelled). @default a line on stderr */
  log?: (line: string) => void;
  /** Milliseconds `close()` waits for running work before cancelling it. @default 10000 */
  shutdownTimeout?: number;
  /** Milliseconds between `loop:stats` snapshots. @default 1000 */
  statsInterval?: number;
  /**
   * Makes the server a node of a cluster, over the config's `cluster` section: `redis` (`--cluster URL`), this
   * node's name (`--node NAME`) and the key prefix. @default undefined (the config's `cluster`, if any)
   */
  cluster?: { redis?: string; node?: string; prefix?: string };
}

export type ResolvedServerOptions = Required<Omit<ServerOptions, 'config' | 'token' | 'cluster'>> & Pick<ServerOptions, 'config' | 'token' | 'cluster'>;

function writeLine(line: string): void {
  process.stderr.write(`sideloop serve: ${line}\n`);
}

/** An integer option; `checkInteger` returns undefined only for undefined, which the defaults above never leave. */
function int(name: string, value: unknown, min: number, max?: number): number {
  return checkInteger(name, value, min, max === undefined ? {} : { max })!;
}

export function resolveServerOptions(input: ServerOptions = {}): ResolvedServerOptions {
  const options = checkObject('options', input) as ServerOptions;
  const {
    config, port = 7420, host = '127.0.0.1', token, bodyLimit = 1024 * 1024,
    rateLimit = { max: 1000, timeWindow: 10_000 }, keepTasks = 1000, shutdownTimeout = 10_000, statsInterval = 1000,
    requestTimeout = 30_000, keepTaskBytes = 64 * 1024 * 1024, maxValueBytes = 64 * 1024, recoveryBytes = 16 * 1024 * 1024,
    clientBufferBytes = 8 * 1024 * 1024, log = writeLine,
  } = options;
  if (config !== undefined && typeof config !== 'string' && (typeof config !== 'object' || config === null)) {
    throw invalid('config', 'a config file path or a resolved config', config);
  }
  if (typeof host !== 'string' || host === '') throw invalid('host', 'a host name or address', host);
  if (token !== undefined && (typeof token !== 'string' || !TOKEN_PATTERN.test(token))) {
    // The formula, but never the value: a wrong token may be a real one with a typo.
    throw new TypeError('Expected `token` to be at least 8 visible ASCII characters without spaces, got `<hidden>`');
  }
  if (typeof log !== 'function') throw invalid('log', 'a function', log);
  const cluster = options.cluster === undefined ? undefined : checkObject('cluster', options.cluster) as { redis?: unknown; node?: unknown; prefix?: unknown };
  for (const key of Object.keys(cluster ?? {})) {
    if (key !== 'redis' && key !== 'node' && key !== 'prefix') throw new TypeError(`Unknown option \`cluster.${key}\` (expected redis, node, prefix)`);
    const value = cluster![key as 'redis'];
    if (value !== undefined && (typeof value !== 'string' || value === '')) throw invalid(`cluster.${key}`, 'a non-empty string', value);
  }
  if (rateLimit !== false) {
    if (typeof rateLimit !== 'object' || rateLimit === null) throw invalid('rateLimit', '{ max, timeWindow } or false', rateLimit);
    int('rateLimit.max', rateLimit.max, 1);
    int('rateLimit.timeWindow', rateLimit.timeWindow, 1);
  }
  return {
    config,
    port: int('port', port, 0, 65535),
    host,
    token,
    bodyLimit: int('bodyLimit', bodyLimit, 1),
    rateLimit,
    keepTasks: int('keepTasks', keepTasks, 0),
    shutdownTimeout: int('shutdownTimeout', shutdownTimeout, 0),
    statsInterval: int('statsInterval', statsInterval, 0),
    requestTimeout: int('requestTimeout', requestTimeout, 1),
    keepTaskBytes: int('keepTaskBytes', keepTaskBytes, 0),
    maxValueBytes: int('maxValueBytes', maxValueBytes, 0),
    recoveryBytes: int('recoveryBytes', recoveryBytes, 0),
    clientBufferBytes: int('clientBufferBytes', clientBufferBytes, 1),
    log,
    cluster: cluster as ServerOptions['cluster'],
  };
}

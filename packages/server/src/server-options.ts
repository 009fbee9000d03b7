/**
 * Options of `startServer`, validated with one message formula: "Expected `port` to be …, got `…`".
 */
import { show } from 'sideloop/remote';
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
}

export type ResolvedServerOptions = Required<Omit<ServerOptions, 'config' | 'token'>> & Pick<ServerOptions, 'config' | 'token'>;

function fail(name: string, expectation: string, value: unknown, ctor: typeof TypeError = TypeError): never {
  throw new ctor(`Expected \`${name}\` to be ${expectation}, got \`${typeof value === 'string' ? value : show(value)}\``);
}

function writeLine(line: string): void {
  process.stderr.write(`sideloop serve: ${line}\n`);
}

function int(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') fail(name, `an integer from ${min} to ${max}`, value);
  if (!Number.isInteger(value) || value < min || value > max) fail(name, `an integer from ${min} to ${max}`, value, RangeError);
  return value;
}

export function resolveServerOptions(options: ServerOptions = {}): ResolvedServerOptions {
  if (options === null || typeof options !== 'object') fail('options', 'an object', options);
  const {
    config, port = 7420, host = '127.0.0.1', token, bodyLimit = 1024 * 1024,
    rateLimit = { max: 1000, timeWindow: 10_000 }, keepTasks = 1000, shutdownTimeout = 10_000, statsInterval = 1000,
    requestTimeout = 30_000, keepTaskBytes = 64 * 1024 * 1024, maxValueBytes = 64 * 1024, recoveryBytes = 16 * 1024 * 1024,
    clientBufferBytes = 8 * 1024 * 1024, log = writeLine,
  } = options;
  if (config !== undefined && typeof config !== 'string' && (typeof config !== 'object' || config === null)) {
    fail('config', 'a config file path or a resolved config', config);
  }
  if (typeof host !== 'string' || host === '') fail('host', 'a host name or address', host);
  if (token !== undefined && (typeof token !== 'string' || !TOKEN_PATTERN.test(token))) {
    fail('token', 'at least 8 visible ASCII characters without spaces', '<hidden>');
  }
  if (typeof log !== 'function') fail('log', 'a function', log);
  if (rateLimit !== false) {
    if (typeof rateLimit !== 'object' || rateLimit === null) fail('rateLimit', '{ max, timeWindow } or false', rateLimit);
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
  };
}

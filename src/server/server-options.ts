/**
 * Options of `startServer`, validated with one message formula: "Expected `port` to be …, got `…`".
 */
import type { ResolvedConfig } from './config.ts';

export interface ServerOptions {
  /** A config file path, a resolved config, or nothing for the built-in demo. */
  config?: string | ResolvedConfig;
  /** 0 picks a free port. @default 7420 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Required on any host but loopback; checked on HTTP and the Socket.IO handshake. @default undefined */
  token?: string;
  /** Largest accepted request body, in bytes (also the largest Socket.IO message). @default 1048576 */
  bodyLimit?: number;
  /** Requests per client (IP) per window, or `false` to turn limiting off. @default { max: 1000, timeWindow: 10000 } */
  rateLimit?: { max: number; timeWindow: number } | false;
  /** Settled tasks kept for `GET /api/tasks/:id`. @default 1000 */
  keepTasks?: number;
  /** Milliseconds `close()` waits for running work before cancelling it. @default 10000 */
  shutdownTimeout?: number;
  /** Milliseconds between `loop:stats` snapshots. @default 1000 */
  statsInterval?: number;
}

export type ResolvedServerOptions = Required<Omit<ServerOptions, 'config' | 'token'>> & Pick<ServerOptions, 'config' | 'token'>;

function fail(name: string, expectation: string, value: unknown): never {
  throw new TypeError(`Expected \`${name}\` to be ${expectation}, got \`${typeof value === 'string' ? value : JSON.stringify(value) ?? String(value)}\``);
}

function int(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

export function resolveServerOptions(options: ServerOptions = {}): ResolvedServerOptions {
  if (options === null || typeof options !== 'object') fail('options', 'an object', options);
  const {
    config, port = 7420, host = '127.0.0.1', token, bodyLimit = 1024 * 1024,
    rateLimit = { max: 1000, timeWindow: 10_000 }, keepTasks = 1000, shutdownTimeout = 10_000, statsInterval = 1000,
  } = options;
  if (config !== undefined && typeof config !== 'string' && (typeof config !== 'object' || config === null)) {
    fail('config', 'a config file path or a resolved config', config);
  }
  if (typeof host !== 'string' || host === '') fail('host', 'a host name or address', host);
  if (token !== undefined && (typeof token !== 'string' || token.length < 8)) fail('token', 'a string of at least 8 characters', token === undefined ? token : '<hidden>');
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
  };
}

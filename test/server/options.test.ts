// Bad options of the server and of `sideloop/socket.io`, checked with the core's helpers: a wrong type is a
// TypeError, a number out of range (NaN, a negative, a fraction, Infinity where not allowed) a RangeError, and every
// message follows one formula with the value shown faithfully.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { attachRelay, boundedRecoveryAdapter, limitSendBuffers, type RelayServer } from '../../packages/core/src/socket-io/index.ts';
import { resolveServerOptions, type ServerOptions } from '../../packages/server/src/server-options.ts';
import { startServer } from '../../packages/server/src/index.ts';

type Ctor = typeof TypeError | typeof RangeError;

function rejects(run: () => unknown, ctor: Ctor, message: string): void {
  assert.throws(run, (error: unknown) => {
    assert.equal((error as Error).constructor, ctor, `a ${ctor.name}: ${(error as Error).message}`);
    assert.equal((error as Error).message, message);
    return true;
  });
}

/** No server is needed: every check runs before the `io` server is touched. */
const io = {} as RelayServer;

void describe('startServer options', () => {
  const bad = (options: unknown, ctor: Ctor, message: string): void => rejects(() => resolveServerOptions(options as ServerOptions), ctor, message);

  void test('integers: wrong type, NaN, negative, fraction, Infinity, and above the maximum', () => {
    const integers: Array<[keyof ServerOptions, number, number?]> = [
      ['port', 0, 65535], ['bodyLimit', 1], ['keepTasks', 0], ['shutdownTimeout', 0], ['statsInterval', 0], ['requestTimeout', 1],
      ['keepTaskBytes', 0], ['maxValueBytes', 0], ['recoveryBytes', 0], ['clientBufferBytes', 1],
    ];
    for (const [key, min, max] of integers) {
      const expected = max === undefined ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
      bad({ [key]: '80' }, TypeError, `Expected \`${key}\` to be ${expected}, got \`"80"\``);
      bad({ [key]: null }, TypeError, `Expected \`${key}\` to be ${expected}, got \`null\``);
      bad({ [key]: 10n }, TypeError, `Expected \`${key}\` to be ${expected}, got \`10n\``);
      bad({ [key]: NaN }, RangeError, `Expected \`${key}\` to be ${expected}, got \`NaN\``);
      bad({ [key]: min - 1 }, RangeError, `Expected \`${key}\` to be ${expected}, got \`${min - 1}\``);
      bad({ [key]: 1.5 }, RangeError, `Expected \`${key}\` to be ${expected}, got \`1.5\``);
      bad({ [key]: Infinity }, RangeError, `Expected \`${key}\` to be ${expected}, got \`Infinity\``);
      bad({ [key]: -Infinity }, RangeError, `Expected \`${key}\` to be ${expected}, got \`-Infinity\``);
    }
    bad({ port: 65536 }, RangeError, 'Expected `port` to be an integer from 0 to 65535, got `65536`');
    bad({ requestTimeout: -0 }, RangeError, 'Expected `requestTimeout` to be an integer >= 1, got `-0`');
    bad({ rateLimit: { max: 0, timeWindow: 1000 } }, RangeError, 'Expected `rateLimit.max` to be an integer >= 1, got `0`');
    bad({ rateLimit: { max: 10, timeWindow: '1s' } }, TypeError, 'Expected `rateLimit.timeWindow` to be an integer >= 1, got `"1s"`');
    bad({ rateLimit: { max: 10, timeWindow: NaN } }, RangeError, 'Expected `rateLimit.timeWindow` to be an integer >= 1, got `NaN`');
  });

  void test('the other options, and the options object itself', () => {
    bad(null, TypeError, 'Expected `options` to be an object, got `null`');
    bad([], TypeError, 'Expected `options` to be an object, got `[]`');
    bad({ host: '' }, TypeError, 'Expected `host` to be a host name or address, got `""`');
    bad({ host: 127 }, TypeError, 'Expected `host` to be a host name or address, got `127`');
    bad({ config: 5 }, TypeError, 'Expected `config` to be a config file path or a resolved config, got `5`');
    bad({ log: 'stderr' }, TypeError, 'Expected `log` to be a function, got `"stderr"`');
    bad({ rateLimit: true }, TypeError, 'Expected `rateLimit` to be { max, timeWindow } or false, got `true`');
    bad({ token: 'short' }, TypeError, 'Expected `token` to be at least 8 visible ASCII characters without spaces, got `<hidden>`');
    bad({ token: 12345678 }, TypeError, 'Expected `token` to be at least 8 visible ASCII characters without spaces, got `<hidden>`');
    const resolved = resolveServerOptions({ port: 0, rateLimit: false });
    assert.equal(resolved.port, 0);
    assert.equal(resolved.rateLimit, false);
    assert.equal(resolved.host, '127.0.0.1');
  });

  void test('startServer rejects with the same errors before it starts anything', async () => {
    await assert.rejects(startServer({ port: NaN }), { name: 'RangeError', message: 'Expected `port` to be an integer from 0 to 65535, got `NaN`' });
    await assert.rejects(startServer({ shutdownTimeout: Symbol('s') as never }), { name: 'TypeError', message: 'Expected `shutdownTimeout` to be an integer >= 0, got `Symbol(s)`' });
  });
});

void describe('sideloop/socket.io options', () => {
  void test('attachRelay', () => {
    rejects(() => attachRelay(io, null as never), TypeError, 'Expected `options` to be an object, got `null`');
    rejects(() => attachRelay(io, { events: 'custom' as never }), TypeError, 'Expected `events` to be an array of event names, got `"custom"`');
    rejects(() => attachRelay(io, { events: ['ok', 5 as never] }), TypeError, 'Expected `events[1]` to be an event name, got `5`');
    rejects(() => attachRelay(io, { events: ['task:done'] }), TypeError, 'Expected `events[0]` to be an event name the relay does not send itself, got `"task:done"`');
    rejects(() => attachRelay(io, { to: '' }), TypeError, 'Expected `to` to be \'all\' or a room name, got `""`');
    rejects(() => attachRelay(io, { loops: [] as never }), TypeError, 'Expected `loops` to be an object, got `[]`');
    rejects(() => attachRelay(io, { expose: 'all' as never }), TypeError, 'Expected `expose` to be an object, got `"all"`');
    rejects(() => attachRelay(io, { submit: true as never }), TypeError, 'Expected `submit` to be a function, got `true`');
    const target = {} as never;
    rejects(() => attachRelay(io, { loops: { a: target }, pools: { a: target } }), TypeError, 'Expected `pools.a` to be a name no loop has, got `"a"`');
    rejects(() => attachRelay(io, { loops: { a: target }, expose: { a: 'echo' as never } }), TypeError, 'Expected `expose.a` to be an array of function names, got `"echo"`');
    for (const key of ['statsInterval', 'maxValueBytes'] as const) {
      rejects(() => attachRelay(io, { [key]: '1000' }), TypeError, `Expected \`${key}\` to be an integer >= 0, got \`"1000"\``);
      rejects(() => attachRelay(io, { [key]: NaN }), RangeError, `Expected \`${key}\` to be an integer >= 0, got \`NaN\``);
      rejects(() => attachRelay(io, { [key]: -1 }), RangeError, `Expected \`${key}\` to be an integer >= 0, got \`-1\``);
      rejects(() => attachRelay(io, { [key]: Infinity }), RangeError, `Expected \`${key}\` to be an integer >= 0, got \`Infinity\``);
    }
  });

  void test('limitSendBuffers', () => {
    rejects(() => limitSendBuffers(io, 8 as never), TypeError, 'Expected `options` to be an object, got `8`');
    rejects(() => limitSendBuffers(io, { maxBytes: '1mb' as never }), TypeError, 'Expected `maxBytes` to be an integer >= 1, got `"1mb"`');
    rejects(() => limitSendBuffers(io, { maxBytes: NaN }), RangeError, 'Expected `maxBytes` to be an integer >= 1, got `NaN`');
    rejects(() => limitSendBuffers(io, { maxBytes: 0 }), RangeError, 'Expected `maxBytes` to be an integer >= 1, got `0`');
    rejects(() => limitSendBuffers(io, { maxBytes: -1 }), RangeError, 'Expected `maxBytes` to be an integer >= 1, got `-1`');
    rejects(() => limitSendBuffers(io, { maxBytes: Infinity }), RangeError, 'Expected `maxBytes` to be an integer >= 1, got `Infinity`');
    rejects(() => limitSendBuffers(io, { onExceeded: 'log' as never }), TypeError, 'Expected `onExceeded` to be a function, got `"log"`');
  });

  void test('boundedRecoveryAdapter', () => {
    rejects(() => boundedRecoveryAdapter(undefined as never), TypeError, 'Expected `maxBytes` to be an integer >= 0, got `undefined`');
    rejects(() => boundedRecoveryAdapter('16mb' as never), TypeError, 'Expected `maxBytes` to be an integer >= 0, got `"16mb"`');
    rejects(() => boundedRecoveryAdapter(NaN), RangeError, 'Expected `maxBytes` to be an integer >= 0, got `NaN`');
    rejects(() => boundedRecoveryAdapter(-1), RangeError, 'Expected `maxBytes` to be an integer >= 0, got `-1`');
    rejects(() => boundedRecoveryAdapter(Infinity), RangeError, 'Expected `maxBytes` to be an integer >= 0, got `Infinity`');
    assert.equal(typeof boundedRecoveryAdapter(0), 'function');
  });
});

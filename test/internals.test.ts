// The pure parts under the threads, tested on their own: the pool's ring queue, claim words, cancel marks, the
// Socket.IO rate window, the JSON body parser, the error codec and the option checks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMarkedCancelled, markCancelled } from '../packages/core/src/thread/cancel-marks.ts';
import { claimTaken, offerClaim, takeClaim } from '../packages/core/src/thread/claims.ts';
import { RingQueue } from '../packages/core/src/pool/ring-queue.ts';
import { BELL_SLOTS, CANCEL_SLOTS, CLAIM_SLOTS } from '../packages/core/src/thread/protocol.ts';
import {
  CancelledError, CloneError, DeadlockError, LoopClosedError, LoopCrashedError, LoopInitError, QueueFullError, RemoteError,
  ReservedEventError, ServiceStartError, HealthCheckError, DeadLetterError, OutsideLoopError, SideloopError, TimeoutError, UnknownFunctionError, sideloopErrorClasses,
} from '../packages/core/src/errors.ts';
import { decodeThrown, encodeThrown, registerErrorClass } from '../packages/core/src/error-codec.ts';
import { checkInteger, checkMs, checkObject, invalid, show } from '../packages/core/src/options.ts';
import { RequestError } from '../packages/core/src/remote/request-error.ts';
import { parseJsonBody } from '../packages/server/src/json-body.ts';
import { WindowLimiter } from '../packages/server/src/window-limiter.ts';

const bell = (): Int32Array => new Int32Array(new SharedArrayBuffer(BELL_SLOTS * 4));
const item = (n: number): { n: number; queued: boolean } => ({ n, queued: false });

test('RingQueue: FIFO through growth, holes left by remove(), unshift to the front, drain', () => {
  const queue = new RingQueue<ReturnType<typeof item>>(16);
  const out: number[] = [];
  for (let n = 0; n < 100; n++) {
    queue.push(item(n));
    if (n % 3 === 0) out.push(queue.shift()!.n); // interleaved, so the ring wraps while it grows
  }
  assert.equal(queue.size, 100 - out.length);
  const rest: number[] = [];
  for (let next = queue.shift(); next; next = queue.shift()) rest.push(next.n);
  assert.deepEqual([...out, ...rest], Array.from({ length: 100 }, (_, n) => n), 'every item once, in order');
  assert.equal(queue.size, 0);

  const [a, b, c] = [item(1), item(2), item(3)];
  queue.push(a);
  queue.push(b);
  queue.push(c);
  assert.equal(queue.remove(b), true);
  assert.equal(queue.remove(b), false, 'removed once');
  queue.unshift(item(0));
  assert.equal(queue.size, 3);
  assert.deepEqual(queue.drain().map((x) => x.n), [0, 1, 3], 'the hole is skipped');
  assert.equal(queue.shift(), undefined);
});

test('claims: exactly one side takes a claim; a word in use refuses another offer', () => {
  const words = bell();
  assert.equal(offerClaim(words, 5), true);
  assert.equal(claimTaken(words, 5), false);
  assert.equal(offerClaim(words, 5 + CLAIM_SLOTS), false, 'same word, still in use');
  assert.equal(takeClaim(words, 5), true);
  assert.equal(takeClaim(words, 5), false, 'the other side finds it taken');
  assert.equal(claimTaken(words, 5), true);
  assert.equal(offerClaim(words, 5 + CLAIM_SLOTS), true, 'the word is free again');
  assert.equal(takeClaim(words, 5), false, 'a tag is per task: the old one does not take the new claim');
  assert.equal(takeClaim(words, 5 + CLAIM_SLOTS), true);
});

test('cancel marks: a mark is read for its own call only', () => {
  const words = bell();
  assert.equal(isMarkedCancelled(words, 7), false);
  markCancelled(words, 7);
  assert.equal(isMarkedCancelled(words, 7), true);
  assert.equal(isMarkedCancelled(words, 7 + CANCEL_SLOTS), false, 'a later call on the same word is not cancelled');
  assert.equal(isMarkedCancelled(words, 8), false);
  assert.equal(offerClaim(words, 7), true, 'marks and claims use different words');
});

test('WindowLimiter: at most max hits per key per window, counted afresh in the next window', () => {
  const limiter = new WindowLimiter(3, 1000);
  const at = 10_000;
  assert.deepEqual([1, 2, 3, 4].map(() => limiter.hit('a', at)), [true, true, true, false]);
  assert.equal(limiter.hit('b', at + 1), true, 'keys count apart');
  assert.equal(limiter.hit('a', at + 999), false);
  assert.equal(limiter.hit('a', at + 1000), true, 'a new window');
});

test('parseJsonBody: JSON in, refused keys named, bad JSON described', () => {
  assert.deepEqual(parseJsonBody('{"fn":"echo","args":[1,{"a":2}]}'), { fn: 'echo', args: [1, { a: 2 }] });
  assert.throws(() => parseJsonBody('{"args":[{"__proto__":{"x":1}}]}'), { code: 'BAD_REQUEST', message: /`__proto__`/ });
  assert.throws(() => parseJsonBody('{"constructor":{"prototype":{}}}'), { code: 'BAD_REQUEST', message: /`constructor.prototype`/ });
  assert.deepEqual(parseJsonBody('{"constructor":"a name"}'), { constructor: 'a name' }, 'a constructor key alone is fine');
  assert.throws(() => parseJsonBody('{"fn"'), { code: 'BAD_REQUEST', message: /^The body is not valid JSON: / });
});

// The error codec: what crosses a thread is what encodeThrown makes, after a structured clone (as postMessage does).
const wire = (thrown: unknown): unknown => decodeThrown(structuredClone(encodeThrown(thrown)));

test('error codec: each sideloop error class round-trips as itself, with its code and own properties', () => {
  const cause = new Error('inner');
  const cases: Array<[Error, Record<string, unknown>]> = [
    [new SideloopError('base'), { code: 'SIDELOOP_ERROR' }],
    [new LoopInitError('init', { cause }), { code: 'SIDELOOP_LOOP_INIT' }],
    [new LoopClosedError('closed'), { code: 'SIDELOOP_LOOP_CLOSED' }],
    [new LoopCrashedError('crashed', { exitCode: 3 }), { code: 'SIDELOOP_LOOP_CRASHED', exitCode: 3 }],
    [new CancelledError('why'), { code: 'SIDELOOP_CANCELLED', reason: 'why', message: 'The task was cancelled' }],
    [new TimeoutError('late', 50), { code: 'SIDELOOP_TIMEOUT', timeout: 50 }],
    [new DeadlockError('self'), { code: 'SIDELOOP_DEADLOCK' }],
    [new CloneError('no', 'args[1].cb'), { code: 'SIDELOOP_CLONE', path: 'args[1].cb' }],
    [new UnknownFunctionError('nope', 'f'), { code: 'SIDELOOP_UNKNOWN_FUNCTION', fn: 'f' }],
    [new ServiceStartError('ready?'), { code: 'SIDELOOP_SERVICE_START' }],
    [new QueueFullError('full'), { code: 'SIDELOOP_QUEUE_FULL' }],
    [new ReservedEventError('crash'), { code: 'SIDELOOP_RESERVED_EVENT' }],
    [new HealthCheckError('health() returned false'), { code: 'SIDELOOP_HEALTH_CHECK' }],
    [new DeadLetterError('poison'), { code: 'SIDELOOP_DEAD_LETTER' }],
    [new OutsideLoopError('no task here'), { code: 'SIDELOOP_OUTSIDE_LOOP' }],
    [new RequestError('QUEUE_FULL', 'busy'), { code: 'QUEUE_FULL', status: 503 }],
  ];
  const covered = new Set<unknown>([...cases.map(([error]) => error.constructor), RemoteError]);
  assert.deepEqual(sideloopErrorClasses.filter((ctor) => !covered.has(ctor)), [], 'every class in errors.ts (RemoteError below)');
  for (const [error, expected] of cases) {
    const back = wire(error) as Error;
    assert.equal(back.constructor, error.constructor, error.name);
    assert.ok(back instanceof (error.constructor as typeof Error));
    assert.equal(back.name, error.name);
    assert.equal(back.message, error.message);
    assert.equal(back.stack, error.stack);
    for (const [key, value] of Object.entries(expected)) assert.deepEqual((back as any)[key], value, `${error.name}.${key}`);
    if (error.cause !== undefined) assert.equal((back.cause as Error).message, 'inner');
  }
  for (const ctor of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]) {
    assert.equal((wire(new ctor('built-in')) as Error).constructor, ctor);
  }
});

test('error codec: cause chains, cycles, non-Error causes and AggregateError.errors', () => {
  const chain = new Error('top', { cause: new TypeError('middle', { cause: 'a string cause' }) });
  const back = wire(chain) as Error;
  assert.ok(back.cause instanceof TypeError);
  assert.equal(back.cause.cause, 'a string cause');

  const a = new Error('a');
  const b = new Error('b', { cause: a });
  (a as { cause?: unknown }).cause = b;
  const cycle = wire(a) as Error;
  assert.equal((cycle.cause as Error).cause, cycle, 'the cycle is rebuilt');

  const shared = new RangeError('shared');
  const aggregate = wire(new AggregateError([shared, shared, 7], 'many', { cause: shared })) as AggregateError;
  assert.ok(aggregate instanceof AggregateError);
  assert.equal(aggregate.errors[0], aggregate.errors[1], 'one error seen twice stays one');
  assert.equal(aggregate.cause, aggregate.errors[0]);
  assert.equal(aggregate.errors[2], 7);
  assert.equal(Object.hasOwn(wire(new Error('no cause')) as Error, 'cause'), false, 'no cause stays no cause');
  assert.equal((wire(new Error('undefined cause', { cause: undefined })) as Error).cause, undefined);
});

test('error codec: an unregistered class arrives as RemoteError; uncloneable properties are described', () => {
  class ParseFailure extends Error {
    line = 3;
    code = 'E_PARSE';
    handler = (): void => {};
  }
  const back = wire(new ParseFailure('bad')) as RemoteError & { line: number; handler: unknown };
  assert.ok(back instanceof RemoteError);
  assert.ok(back instanceof SideloopError);
  assert.equal(back.remoteName, 'ParseFailure');
  assert.equal(back.name, 'Error');
  assert.equal(back.code, 'E_PARSE', 'its own code is kept');
  assert.equal(back.line, 3);
  assert.equal(back.handler, '[uncloneable function]');
  class Plain extends Error {
    override name = 'Plain';
  }
  const plain = wire(new Plain('p')) as RemoteError;
  assert.equal(plain.code, 'SIDELOOP_REMOTE');
  assert.equal(plain.name, 'Plain');
});

test('error codec: thrown values that are not errors arrive by value', () => {
  for (const value of [42, 'text', null, undefined, { plain: [1] }, 10n, NaN]) assert.deepEqual(wire(value), value);
  assert.equal(wire(() => 1), '[uncloneable function]');
  assert.equal(wire(Symbol('s')), '[uncloneable symbol]');
  assert.equal(wire({ socket: new MessageChannel().port1 }), '[uncloneable Object]');
});

test('error codec: the call site is appended to the stack', () => {
  const site = { stack: 'Error\n    at caller (file.js:1:1)' };
  const back = decodeThrown(encodeThrown(new Error('x')), site) as Error;
  assert.match(back.stack!, /\n {4}at <sideloop call site>\n {4}at caller \(file\.js:1:1\)$/);
});

test('error codec: two copies of the codec share one registry; two copies of the classes agree on instanceof', async () => {
  // Relative specifiers with a query: Bun ignores the query of a file: URL and would hand back the same instance.
  const codecCopy = '../packages/core/src/error-codec.ts?copy=1';
  const copy = (await import(codecCopy)) as typeof import('../packages/core/src/error-codec.ts');
  assert.notEqual(copy.decodeThrown, decodeThrown, 'a second module instance');
  class Registered extends Error {
    override name = 'Registered';
  }
  copy.registerErrorClass(Registered);
  assert.ok(decodeThrown(copy.encodeThrown(new Registered('r'))) instanceof Registered, 'registered by one copy, revived by the other');
  assert.ok(copy.decodeThrown(encodeThrown(new CancelledError())) instanceof CancelledError);

  const errorsCopy = '../packages/core/src/errors.ts?copy=1';
  const other = (await import(errorsCopy)) as typeof import('../packages/core/src/errors.ts');
  assert.notEqual(other.CancelledError, CancelledError, 'a second set of classes');
  assert.ok(new other.CancelledError() instanceof CancelledError);
  assert.ok(new CancelledError() instanceof other.CancelledError);
  assert.ok(new other.TimeoutError('t', 1) instanceof SideloopError);
  assert.ok(!(new other.TimeoutError('t', 1) instanceof CancelledError), 'never another class');
  assert.ok(new other.CloneError('c', 'x') instanceof CloneError);
  const revived = wire(new other.QueueFullError('q'));
  assert.ok(revived instanceof QueueFullError && revived instanceof other.QueueFullError, 'revived by the shared registry, an instance for both copies');
  assert.throws(() => registerErrorClass(Object as never), { name: 'TypeError', message: /^Expected `ctor` to be an Error subclass/ });
});

// Option checks: Node's convention, a wrong type is a TypeError and a number out of range (NaN too) a RangeError.
function fails(run: () => unknown, ctor: typeof TypeError, message: string): void {
  assert.throws(run, (error: unknown) => {
    assert.equal((error as Error).constructor, ctor, (error as Error).message);
    assert.equal((error as Error).message, message);
    return true;
  });
}

test('show renders values faithfully', () => {
  assert.equal(show(NaN), 'NaN');
  assert.equal(show(Infinity), 'Infinity');
  assert.equal(show(-Infinity), '-Infinity');
  assert.equal(show(-0), '-0');
  assert.equal(show(0), '0');
  assert.equal(show(10n), '10n');
  assert.equal(show(Symbol('x')), 'Symbol(x)');
  assert.equal(show(Symbol()), 'Symbol()');
  assert.equal(show(undefined), 'undefined');
  assert.equal(show(null), 'null');
  assert.equal(show('80'), '"80"', 'strings are quoted, so "80" and 80 differ');
  assert.equal(show(true), 'true');
  assert.equal(show(() => 1), 'a function');
  assert.equal(show([1, 'a']), '[1,"a"]');
  assert.equal(show({ n: 1n }), '{"n":"1n"}');
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assert.equal(show(cycle), '[object Object]');
});

test('invalid and checkObject', () => {
  const error = invalid('x', 'a thing', 5);
  assert.ok(error instanceof TypeError);
  assert.equal(error.message, 'Expected `x` to be a thing, got `5`');
  assert.ok(invalid('x', 'a thing', 5, RangeError) instanceof RangeError);
  assert.deepEqual(checkObject('o', undefined), {});
  const object = { a: 1 };
  assert.equal(checkObject('o', object), object);
  fails(() => checkObject('o', null), TypeError, 'Expected `o` to be an object, got `null`');
  fails(() => checkObject('o', [1]), TypeError, 'Expected `o` to be an object, got `[1]`');
  fails(() => checkObject('o', 'a'), TypeError, 'Expected `o` to be an object, got `"a"`');
});

test('checkMs: positive or non-negative, finite unless Infinity is allowed', () => {
  assert.equal(checkMs('t', undefined), undefined);
  assert.equal(checkMs('t', 1.5), 1.5);
  fails(() => checkMs('t', '5'), TypeError, 'Expected `t` to be a positive number, got `"5"`');
  fails(() => checkMs('t', 5n), TypeError, 'Expected `t` to be a positive number, got `5n`');
  fails(() => checkMs('t', null), TypeError, 'Expected `t` to be a positive number, got `null`');
  fails(() => checkMs('t', NaN), RangeError, 'Expected `t` to be a positive number, got `NaN`');
  fails(() => checkMs('t', -1), RangeError, 'Expected `t` to be a positive number, got `-1`');
  fails(() => checkMs('t', 0), RangeError, 'Expected `t` to be a positive number, got `0`');
  fails(() => checkMs('t', -0), RangeError, 'Expected `t` to be a positive number, got `-0`');
  fails(() => checkMs('t', Infinity), RangeError, 'Expected `t` to be a positive number, got `Infinity`');
  assert.equal(checkMs('t', Infinity, { allowInfinity: true }), Infinity);
  fails(() => checkMs('t', -Infinity, { allowInfinity: true }), RangeError, 'Expected `t` to be a positive number, got `-Infinity`');
  assert.equal(checkMs('t', 0, { allowZero: true }), 0);
  fails(() => checkMs('t', -1, { allowZero: true }), RangeError, 'Expected `t` to be a non-negative number, got `-1`');
  fails(() => checkMs('t', 'x', { allowZero: true }), TypeError, 'Expected `t` to be a non-negative number, got `"x"`');
});

test('checkInteger: integers from min (to max), Infinity only where allowed', () => {
  assert.equal(checkInteger('n', undefined, 0), undefined);
  assert.equal(checkInteger('n', 0, 0), 0);
  fails(() => checkInteger('n', '1', 1), TypeError, 'Expected `n` to be an integer >= 1, got `"1"`');
  fails(() => checkInteger('n', 1n, 1), TypeError, 'Expected `n` to be an integer >= 1, got `1n`');
  fails(() => checkInteger('n', Symbol('s'), 1), TypeError, 'Expected `n` to be an integer >= 1, got `Symbol(s)`');
  fails(() => checkInteger('n', NaN, 1), RangeError, 'Expected `n` to be an integer >= 1, got `NaN`');
  fails(() => checkInteger('n', 1.5, 1), RangeError, 'Expected `n` to be an integer >= 1, got `1.5`');
  fails(() => checkInteger('n', 0, 1), RangeError, 'Expected `n` to be an integer >= 1, got `0`');
  fails(() => checkInteger('n', -1, 0), RangeError, 'Expected `n` to be an integer >= 0, got `-1`');
  fails(() => checkInteger('n', Infinity, 0), RangeError, 'Expected `n` to be an integer >= 0, got `Infinity`');
  assert.equal(checkInteger('n', Infinity, 0, { allowInfinity: true }), Infinity);
  fails(() => checkInteger('n', -Infinity, 0, { allowInfinity: true }), RangeError, 'Expected `n` to be an integer >= 0, got `-Infinity`');
  assert.equal(checkInteger('port', 65535, 0, { max: 65535 }), 65535);
  fails(() => checkInteger('port', 65536, 0, { max: 65535 }), RangeError, 'Expected `port` to be an integer from 0 to 65535, got `65536`');
  fails(() => checkInteger('port', '80', 0, { max: 65535 }), TypeError, 'Expected `port` to be an integer from 0 to 65535, got `"80"`');
  assert.equal(checkInteger('n', -0, 0), -0, '-0 is the integer 0');
});

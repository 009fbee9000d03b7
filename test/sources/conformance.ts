// The conformance suite every source runs (memorySource and each broker adapter, on the real brokers): the
// scenarios of SOURCES.md, "How it is checked", each with exact counts. A consumer runs as a service in a real loop
// thread (test/fixtures/sources/consumer.js); the main side publishes, watches the handler's events and asks the
// broker what is left.
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { TransferListItem } from 'node:worker_threads';
import { closeAllLoops, startLoop, transfer, type Loop } from '../../packages/core/src/index.ts';
import { SourceError, type ConsumeStats } from '../../packages/core/src/sources/index.ts';
import { fixture } from '../helpers.ts';

/** What the consumer loop builds its source from: `(await import(module))[factory](options)`. */
export interface SourceSpec {
  module: string;
  factory: string;
  options: Record<string, unknown>;
}

/** One queue (stream, subject) made for one test, and how to look into it. */
export interface Target {
  /**
   * Why the broker may deliver a message again as a first delivery (attempt 1) after a consumer crashed, when it
   * does: a broker bug, named with its issue. Undefined where its delivery count only goes up.
   */
  recountsFirstDelivery?: string | undefined;
  /** The source for one consumer loop; `proxied` goes through the test's TCP proxy (for `kill`). */
  spec(proxied: boolean): { spec: SourceSpec; transferList?: TransferListItem[] };
  /** Publishes from the main thread, straight to the broker; resolves once the broker accepted it. */
  publish(body: unknown): Promise<string>;
  /** Messages waiting plus messages leased, as the broker counts them. */
  backlog(): Promise<{ waiting: number; inFlight: number }>;
  deadLetters(): Promise<Array<{ attempt: number; code: string | undefined; message: string }>>;
  /** Cuts the proxied consumers' connections and refuses new ones until `resume()`. */
  kill(): Promise<void>;
  resume(): void;
  cleanup(): Promise<void>;
}

export interface Harness {
  name: string;
  /** A source for a queue that does not exist (without `create`), where the broker has such a thing. */
  missing?: () => SourceSpec;
  /** A source whose credentials the broker refuses, where the machine's broker checks them. */
  refused?: () => SourceSpec;
  /** The lease the scenarios use (ms); small, so a crashed consumer's messages come back soon. */
  lease: number;
  target(): Promise<Target>;
}

interface Seen { n: number; id: string; attempt: number; taskId: string | undefined }

/** Records the handlers' events and wakes waiters on each one. */
class Recorder {
  readonly started: Seen[] = [];
  readonly handled: Seen[] = [];
  readonly failed: Seen[] = [];
  readonly dead: any[] = [];
  readonly connections: string[] = [];
  #waiters = new Set<() => void>();

  listen(loop: Loop): void {
    const record = (list: Seen[]) => (payload: any, meta: { taskId?: string | undefined }) => {
      list.push({ ...payload, taskId: meta.taskId });
      this.#notify();
    };
    loop.on('started', record(this.started));
    loop.on('handled', record(this.handled));
    loop.on('failed', record(this.failed));
    loop.on('source:dead', (payload) => (this.dead.push(payload), this.#notify()));
    loop.on('source:disconnected', () => (this.connections.push('disconnected'), this.#notify()));
    loop.on('source:connected', () => (this.connections.push('connected'), this.#notify()));
  }

  #notify(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /** Resolves once `check()` holds, re-checking on each event; fails naming `what` after `ms`. */
  until(check: () => boolean, what: string, ms = 30_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => (this.#waiters.delete(wake), reject(new Error(`Timed out after ${ms} ms waiting for ${what}`))), ms);
      const wake = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      this.#waiters.add(wake);
    });
  }

  distinctHandled(): Set<number> {
    return new Set(this.handled.map((s) => s.n));
  }
}

/** Polls the broker (every 50 ms) until nothing waits and nothing is leased. */
async function drained(target: Target, ms = 30_000): Promise<void> {
  const deadline = performance.now() + ms;
  for (;;) {
    const { waiting, inFlight } = await target.backlog();
    if (waiting === 0 && inFlight === 0) return;
    if (performance.now() > deadline) throw new Error(`The broker still holds ${waiting} waiting and ${inFlight} leased messages after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let loops = 0;

async function consumerLoop(harness: Harness, recorder: Recorder): Promise<Loop> {
  const loop = await startLoop(fixture('sources/consumer.js'), { name: `${harness.name}-consumer-${++loops}` });
  recorder.listen(loop);
  return loop;
}

function spawnConsumer(loop: Loop, target: Target, options: Record<string, unknown>, { proxied = false, mode = 'hang' } = {}) {
  const { spec, transferList } = target.spec(proxied);
  return loop.spawn('run', transferList ? transfer(spec, transferList) : spec, options, mode);
}

/** A fixed pseudo-random choice of `count` numbers out of 0..total-1, the same every run. */
function pick(total: number, count: number, seed = 7): Set<number> {
  const chosen = new Set<number>();
  let x = seed;
  while (chosen.size < count) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    chosen.add(x % total);
  }
  return chosen;
}

export function conformance(harness: Harness): void {
  describe(`${harness.name} source conformance`, () => {
    let target: Target | undefined;
    afterEach(async () => {
      await closeAllLoops({ timeout: 10_000 });
      await target?.cleanup();
      target = undefined;
    });

    test('1000 messages, 10% failing once, a loop crash midway: every message handled, none lost', async () => {
      target = await harness.target();
      const total = 1000;
      const failing = pick(total, 100);
      await Promise.all(Array.from({ length: total }, (_, n) => target!.publish(failing.has(n) ? { n, fail: 'once' } : { n })));
      const options = { concurrency: 8, prefetch: 8, maxAttempts: 5, retryDelay: 20, lease: harness.lease, stopTimeout: 5000 };
      const recorder = new Recorder();

      const first = await consumerLoop(harness, recorder);
      const crashed = new Promise((resolve) => first.once('crash', resolve));
      const firstService = await spawnConsumer(first, target, options);
      await recorder.until(() => recorder.handled.length >= 300, '300 messages handled before the crash');
      void first.submit('crash').catch(() => {});
      await crashed;
      assert.equal(first.state, 'crashed');
      await assert.rejects(firstService.finished);
      const beforeCrash = recorder.handled.length;

      const second = await consumerLoop(harness, recorder);
      const service = await spawnConsumer(second, target, options);
      await recorder.until(() => recorder.distinctHandled().size === total, 'every message handled', 60_000);
      await drained(target);
      const stats = await service.stop();

      const lost = [...Array(total).keys()].filter((n) => !recorder.distinctHandled().has(n));
      assert.deepEqual(lost, [], 'no message lost');
      assert.deepEqual(await target.deadLetters(), [], 'nothing dead-lettered');
      assert.deepEqual(await target.backlog(), { waiting: 0, inFlight: 0 });
      // A message failing once never succeeds on its first attempt: attempts come from the broker's own count.
      for (const seen of recorder.handled) if (failing.has(seen.n)) assert.ok(seen.attempt >= 2, `message ${seen.n} succeeded on attempt ${seen.attempt}`);
      // Duplicates only from redelivery: of the handlings of one message, at most one is a first delivery (on a broker
      // that can count a redelivery as a first one, one of them at least was the crashed consumer's), and only the
      // messages the crashed loop held (at most concurrency + prefetch) can have been handled twice.
      const byN = new Map<number, Seen[]>();
      for (const seen of recorder.handled) byN.set(seen.n, [...(byN.get(seen.n) ?? []), seen]);
      const twice = [...byN].filter(([, seen]) => seen.length > 1);
      const by = (s: Seen): string => `attempt ${s.attempt} (${s.taskId === firstService.id ? 'crashed consumer' : 'second consumer'}, delivery ${s.id})`;
      for (const [n, seen] of twice) {
        const firsts = seen.filter((s) => s.attempt === 1);
        const allowed = target.recountsFirstDelivery === undefined || !firsts.some((s) => s.taskId === firstService.id) ? 1 : 2;
        assert.ok(firsts.length <= allowed, `message ${n} handled twice as a first delivery: ${seen.map(by).join(', ')}`);
      }
      assert.ok(twice.length <= 16, `${twice.length} messages handled twice, more than the crashed loop held`);
      // The second consumer's stats match what its handlers did, exactly.
      const mine = (list: Seen[]) => list.filter((s) => s.taskId === service.id).length;
      assert.ok(beforeCrash >= 300 && mine(recorder.handled) >= total - beforeCrash - 16);
      assert.deepEqual(stats, {
        received: mine(recorder.started), acked: mine(recorder.handled), retried: mine(recorder.failed), deadLettered: 0,
        released: 0, inFlightAtStop: 0,
      } satisfies ConsumeStats);
    });

    test('a message that always fails is dead-lettered after exactly maxAttempts; DeadLetterError and non-JSON at once', async () => {
      target = await harness.target();
      await target.publish({ n: 1, fail: 'always' });
      await target.publish({ n: 2, fail: 'dead' });
      await target.publish('not json {');
      await target.publish({ n: 4 });
      const recorder = new Recorder();
      const loop = await consumerLoop(harness, recorder);
      const service = await spawnConsumer(loop, target, { concurrency: 2, maxAttempts: 3, retryDelay: 50, lease: harness.lease });
      await recorder.until(() => recorder.dead.length === 3 && recorder.handled.length === 1, 'three dead letters and one handled');
      await drained(target);
      const stats = await service.stop();

      assert.deepEqual(recorder.failed.filter((s) => s.n === 1).map((s) => s.attempt), [1, 2, 3]);
      assert.deepEqual(recorder.failed.filter((s) => s.n === 2).map((s) => s.attempt), [1]);
      const order = (m: string): number => (m.startsWith('message 1') ? 0 : m.startsWith('message 2') ? 1 : 2);
      const dead = [...recorder.dead].sort((a, b) => order(a.error.message) - order(b.error.message));
      assert.equal(dead.length, 3);
      assert.deepEqual(dead.map((d) => [d.attempt, d.error.code]), [[3, 'E_FIXTURE'], [1, 'SIDELOOP_DEAD_LETTER'], [1, 'SIDELOOP_DEAD_LETTER']]);
      assert.equal(dead[0].error.message, 'message 1 failed on attempt 3');
      assert.equal(dead[1].error.message, 'message 2 is refused');
      assert.match(dead[2].error.message, /is not JSON/);
      for (const d of dead) assert.equal(d.source, service.readyValue && (service.readyValue as any).source);
      const letters = (await target.deadLetters()).sort((a, b) => order(a.message) - order(b.message));
      assert.deepEqual(letters.map((l) => [l.attempt, l.code, l.message]), dead.map((d) => [d.attempt, d.error.code, d.error.message]));
      assert.deepEqual(stats, { received: 6, acked: 1, retried: 2, deadLettered: 3, released: 0, inFlightAtStop: 0 } satisfies ConsumeStats);
    });

    test('stop with 50 in flight acknowledges nothing unhandled and loses nothing', async () => {
      target = await harness.target();
      const total = 80;
      await Promise.all(Array.from({ length: total }, (_, n) => target!.publish({ n, hold: true })));
      const recorder = new Recorder();
      const loop = await consumerLoop(harness, recorder);
      const options = { concurrency: 50, prefetch: 10, lease: harness.lease, stopTimeout: 200, retryDelay: 20 };
      const service = await spawnConsumer(loop, target, options);
      await recorder.until(() => recorder.started.length === 50, '50 handlers running');
      const stats = await service.stop();
      assert.equal(stats.inFlightAtStop, 50);
      assert.equal(stats.acked, 0, 'nothing unhandled was acknowledged');
      assert.equal(recorder.handled.length, 0);
      assert.equal(recorder.started.length, 50, 'no handler started after the stop');
      assert.equal(stats.released, stats.received, 'every message received was given back');
      assert.ok(stats.received >= 50 && stats.received <= 60, `received ${stats.received}, at most concurrency + prefetch`);
      assert.equal(stats.retried + stats.deadLettered, 0);

      const again = await spawnConsumer(loop, target, { ...options, stopTimeout: 5000 }, { mode: 'pass' });
      await recorder.until(() => recorder.distinctHandled().size === total, 'every message handled by the next consumer');
      await drained(target);
      const after = await again.stop();
      assert.equal(after.acked, total);
      assert.equal(recorder.handled.length, total, 'each message handled once');
      assert.deepEqual(await target.deadLetters(), []);
    });

    test('a queue that does not exist fails the start with SourceError SIDELOOP_SOURCE_NOT_FOUND', { skip: !harness.missing }, async () => {
      const recorder = new Recorder();
      const loop = await consumerLoop(harness, recorder);
      await assert.rejects(loop.spawn('run', harness.missing!(), { lease: harness.lease }), (error: any) => {
        assert.ok(error instanceof SourceError, `expected SourceError, got ${error?.name}: ${error?.message}`);
        assert.equal(error.code, 'SIDELOOP_SOURCE_NOT_FOUND');
        return true;
      });
      assert.deepEqual(recorder.connections, [], 'not taken for a lost connection');
    });

    test('credentials the broker refuses fail the start with SourceError SIDELOOP_SOURCE_AUTH', { skip: !harness.refused }, async () => {
      const recorder = new Recorder();
      const loop = await consumerLoop(harness, recorder);
      await assert.rejects(loop.spawn('run', harness.refused!(), { lease: harness.lease }), (error: any) => {
        assert.ok(error instanceof SourceError, `expected SourceError, got ${error?.name}: ${error?.message}`);
        assert.equal(error.code, 'SIDELOOP_SOURCE_AUTH', error.message);
        return true;
      });
      assert.deepEqual(recorder.connections, [], 'not taken for a lost connection');
    });

    test('a connection killed mid-stream reconnects and loses nothing', async () => {
      target = await harness.target();
      const total = 300;
      await Promise.all(Array.from({ length: total }, (_, n) => target!.publish({ n })));
      const recorder = new Recorder();
      const loop = await consumerLoop(harness, recorder);
      const options = { concurrency: 4, lease: harness.lease, retryDelay: 20, stopTimeout: 5000 };
      const service = await spawnConsumer(loop, target, options, { proxied: true });
      await recorder.until(() => recorder.handled.length >= 100, '100 messages handled');
      await target.kill();
      await recorder.until(() => recorder.connections.includes('disconnected'), 'source:disconnected');
      target.resume();
      await recorder.until(() => recorder.connections.includes('connected'), 'source:connected');
      await recorder.until(() => recorder.distinctHandled().size === total, 'every message handled', 60_000);
      await drained(target);
      assert.equal(service.state, 'running', 'a lost connection does not end the consumer');
      const stats = await service.stop();
      assert.deepEqual([...Array(total).keys()].filter((n) => !recorder.distinctHandled().has(n)), [], 'no message lost');
      assert.equal(recorder.connections[0], 'disconnected');
      assert.equal(recorder.connections.at(-1), 'connected');
      assert.equal(stats.acked + stats.released <= stats.received, true);
      assert.ok(stats.acked >= total - 4 - 4, `acked ${stats.acked}: at most what the lost connection held was redelivered`);
      assert.deepEqual(await target.deadLetters(), []);
    });
  });
}

/**
 * The loop thread's entry point: loads the loop module, runs `init(...initArgs)` in a context of its own, reports
 * ready (or the failure), then serves connections until `close`. On the way out, for any reason, it marks the
 * control block dead and rings every bell so that no blocked caller waits forever.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { MessageChannel, threadId, workerData, type MessagePort } from 'node:worker_threads';
import { selfLoop } from '../loop/self-core.ts';
import { encodeThrown } from '../error-codec.ts';
import {
  BELL_SEQ, CTRL_EXIT_CODE, CTRL_HEARTBEAT, CTRL_SAID_CLOSED, CTRL_STATE, DELAY_MAX, DELAY_MEAN, DELAY_P50, DELAY_P99, STATE_DEAD,
  SELF_CONN, STATE_READY, controlViews, type LoopBootData, BELL_SLOTS,
} from '../thread/protocol.ts';
import { globals } from './context.ts';
import { describeExports, loadModule } from './load-module.ts';
import { Runtime } from './runtime.ts';

const boot = workerData as LoopBootData;
const { ctrl, delay } = controlViews(boot.control);
const ownerBell = new Int32Array(boot.bell);
const port = boot.port as unknown as MessagePort;

process.on('exit', (code) => {
  Atomics.store(ctrl, CTRL_EXIT_CODE, code);
  Atomics.store(ctrl, CTRL_STATE, STATE_DEAD);
  Atomics.add(ownerBell, BELL_SEQ, 1);
  Atomics.notify(ownerBell, BELL_SEQ);
});

function ring(message: unknown): void {
  port.postMessage(message);
  Atomics.add(ownerBell, BELL_SEQ, 1);
  Atomics.notify(ownerBell, BELL_SEQ);
}

if (boot.unhandledRejections === 'report') {
  process.on('unhandledRejection', (reason) => {
    ring({ type: 'event', event: 'error', payload: encodeThrown(reason), taskId: undefined });
  });
}

/** The delay histogram samples every 10 ms and records whole intervals: the delay is what exceeds 10 ms. */
const RESOLUTION_MS = 10;

/** Heartbeat for the watchdog, and the loop's own event-loop delay for stats(). */
function startHealth(): void {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  // The histogram drops its first sample, so a block right after start would go unseen: the heartbeat's own drift
  // (how late this 50 ms timer fires) is folded into the maximum.
  let ticks = 0;
  let last = performance.now();
  let drift = 0;
  setInterval(() => {
    Atomics.add(ctrl, CTRL_HEARTBEAT, 1);
    const now = performance.now();
    drift = Math.max(drift, now - last - 50);
    last = now;
    if (++ticks % 10 !== 0) return;
    const late = (ns: number): number => Math.max(0, ns / 1e6 - RESOLUTION_MS);
    delay[DELAY_P50] = late(histogram.percentile(50));
    delay[DELAY_P99] = Math.max(late(histogram.percentile(99)), histogram.count < 2 ? drift : 0);
    delay[DELAY_MAX] = Math.max(late(histogram.max), drift);
    delay[DELAY_MEAN] = late(histogram.mean);
    histogram.reset();
    drift = 0;
  }, 50).unref();
}

async function main(): Promise<void> {
  let mod: Record<string, unknown>;
  let runtime: Runtime;
  let initValue: unknown;
  // Until the loop serves its port, nothing else may keep this thread's event loop alive (init may await forever).
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    for (const url of boot.threadModules ?? []) await import(url);
    mod = await loadModule(boot.moduleUrl);
    runtime = new Runtime(boot.name, mod, ctrl, (error) => {
      ring(error === undefined ? { type: 'closed' } : { type: 'closed', error: encodeThrown(error) });
      Atomics.store(ctrl, CTRL_SAID_CLOSED, 1);
      process.exit(error === undefined ? 0 : 1);
    });
    // Served before init runs, so what init emits reaches the caller (which holds it until it can listen).
    runtime.attach(0, port, boot.bell);
    const init = mod.init;
    if (init !== undefined && typeof init !== 'function') throw new TypeError('The loop module exports `init`, but it is not a function');
    if (typeof init === 'function') {
      const { signal } = runtime.initController;
      const context = {
        id: `${boot.name}:init`,
        signal,
        // init is not cancelled by a caller: it stops when the loop closes (or readyTimeout passes), through its signal.
        cancelled: () => signal.aborted,
        throwIfCancelled: () => signal.throwIfAborted(),
        emit: (event: string, payload?: unknown) => runtime.emit(event, payload, undefined),
        progress: () => {},
        ready: () => {
          throw new TypeError('ready() is for services started with loop.spawn(), not for init');
        },
      };
      initValue = await globals.storage.run(context, () => init(...boot.initArgs));
    }
  } catch (error) {
    ring({ type: 'init-failed', error: encodeThrown(error) });
    return;
  } finally {
    clearInterval(keepAlive);
  }
  let self: unknown;
  globals.currentLoop = () => {
    if (self) return self;
    const { port1, port2 } = new MessageChannel();
    const bell = new SharedArrayBuffer(BELL_SLOTS * 4);
    runtime.attach(SELF_CONN, port2, bell);
    self = selfLoop({
      name: boot.name, port: port1, bell, control: boot.control, threadId, initValue, exports: describeExports(mod).exports,
    }, (reason) => runtime.requestRestart(reason));
    return self;
  };
  startHealth();
  Atomics.store(ctrl, CTRL_STATE, STATE_READY);
  // Said from the running event loop (init may have finished before it started): the caller reads this thread's
  // utilization when it is ready, which Node can only do once the loop has started (spawn.ts's probeDead).
  setImmediate(() => {
    try {
      ring({ type: 'ready', initValue, ...describeExports(mod) });
    } catch {
      ring({ type: 'init-failed', error: encodeThrown(new TypeError('The value returned by init() cannot be sent to another thread (structured clone failed)')) });
    }
  });
}

void main();

/**
 * The loop thread's fast path: when a batch finished synchronously, it stays a moment so that the next call is read
 * straight off the port instead of waiting for this thread's event loop to wake. It sleeps on the control block's
 * wake counter (which callers bump after posting) up to PARK_MS (callers wake it with Atomics.notify, see
 * protocol.ts's ringWake); once a call came while it stayed (calls back to back), it first spins LINGER_MS on the
 * counter, unless the last batch ran long. It yields at once to async work, and after LINGER_BUDGET_MS in all, so the
 * loop's timers and I/O are late by about a millisecond at most, never frozen.
 *
 * Not spinning after a lone call matters where the scheduler puts a woken thread on the CPU of the thread that woke
 * it (small VMs do): the caller, woken by the answer, would wait behind the spin on this thread's CPU.
 */
import { CTRL_PARKED, CTRL_WAKE } from '../thread/protocol.ts';

/** All in ms. */
const LINGER_MS = Number(process.env.SIDELOOP_LINGER_US ?? 50) / 1000;
const PARK_MS = Number(process.env.SIDELOOP_PARK_US ?? 1000) / 1000;
const LINGER_BUDGET_MS = 2;
/** A batch that ran longer than this (ms) goes straight to sleeping on the control block, without spinning. */
const SPIN_CUTOFF_MS = 1;

/** What lingering needs of the runtime. */
export interface Lingering {
  /** Runs one queued message per connection, if any; true if there was one. */
  readPorts(): boolean;
  /** Calls are running (async work): stop lingering. */
  busy(): boolean;
  closing(): boolean;
}

/** Lingers after a batch that took `batchMs`, running the calls that come meanwhile. */
export function linger(ctrl: Int32Array, batchMs: number, runtime: Lingering): void {
  if ((LINGER_MS <= 0 && PARK_MS <= 0) || runtime.closing()) return;
  const start = performance.now();
  let ranMs = batchMs;
  /** A call came while lingering: callers call back to back, and spinning for the next one pays. */
  let backToBack = false;
  for (;;) {
    // The counter is read before the ports: a call posted after that look has bumped it past `seen`.
    const seen = Atomics.load(ctrl, CTRL_WAKE);
    const from = performance.now();
    if (runtime.readPorts()) {
      ranMs = performance.now() - from;
      backToBack = true;
      if (runtime.busy()) return;
    } else if (!awaitWake(ctrl, seen, backToBack && ranMs <= SPIN_CUTOFF_MS ? LINGER_MS : 0)) {
      return;
    }
    if (runtime.closing() || performance.now() - start >= LINGER_BUDGET_MS) return;
  }
}

/**
 * Spins `spinMs`, then sleeps up to PARK_MS, until the wake counter moves past `seen`; false if it did not.
 * Spinning pays off only after small calls; after long work it would take a core from threads that need one.
 */
function awaitWake(ctrl: Int32Array, seen: number, spinMs: number): boolean {
  const deadline = performance.now() + spinMs;
  while (Atomics.load(ctrl, CTRL_WAKE) === seen) {
    if (performance.now() < deadline) continue;
    if (PARK_MS <= 0) return false;
    Atomics.store(ctrl, CTRL_PARKED, 1);
    const woken = Atomics.wait(ctrl, CTRL_WAKE, seen, PARK_MS) !== 'timed-out';
    Atomics.store(ctrl, CTRL_PARKED, 0);
    return woken;
  }
  return true;
}

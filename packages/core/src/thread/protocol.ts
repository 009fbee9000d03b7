/**
 * The wire protocol between a caller thread and a loop thread: every message is a tagged object, and the shared
 * memory slots are named here. One caller (the thread that started the loop, or one that `connectLoop`ed)
 * talks to the loop over its own MessagePort, called a connection; `seq` numbers a call within its connection.
 */
import type { WireThrown } from '../error-codec.ts';

/** What kind of call: a plain task, an async-generator stream, or a long-running service. */
export type CallKind = 'task' | 'stream' | 'service';

export interface ServicePolicy {
  restart: 'never' | 'on-failure' | 'always';
  maxRestarts: number;
  backoff: { initial: number; max: number; factor: number };
}

/**
 * One call. With `limit` (pools), the loop queues the call and runs at most `limit` such calls of the connection at
 * once, in order, so that a pool can hand a thread more work than it runs at a time.
 */
export interface CallMessage {
  type: 'call'; seq: number; fn: string; args: unknown[]; kind: CallKind; credit?: number; policy?: ServicePolicy; limit?: number;
  /** sideloop's own call of a reserved export (`health`), which callers cannot make. */
  internal?: boolean;
  /**
   * The thread claims it (claims.ts) before it starts: a pool may have taken it back (sent ahead), or the caller's
   * cancel may have come first (a loop call).
   */
  claim?: boolean;
  /** Opaque metadata from the caller (extensions.ts): trace context, for one. */
  meta?: string;
}

/**
 * Caller to loop. `calls` is a pool's batch of plain tasks, flat to keep it cheap to clone: `flat` holds
 * `seq, fn, args` for each call in turn, all with the same `limit`; a negative `seq` marks a call to claim first.
 */
export type ToLoop =
  | CallMessage
  | { type: 'calls'; limit: number; flat: unknown[] }
  | { type: 'abort'; seq: number; reason: WireThrown; stop?: boolean }
  | { type: 'pull'; seq: number; n: number }
  | { type: 'ping'; seq: number }
  | { type: 'subscribe'; on: boolean }
  | { type: 'connect'; conn: number; port: MessagePortLike; bell: SharedArrayBuffer }
  | { type: 'disconnect' }
  /** A subpath's code to run in this thread beside the loop module (attach.ts), with its own channel. */
  | { type: 'attach'; url: string; data: unknown; port: MessagePortLike }
  /**
   * `force`: the close timed out; stop waiting for running work (cancel it and leave it) and run `dispose()` now.
   * `restart`: the thread is retired for a fresh one: nothing more starts, no result goes back (the callers reject
   * what ran with `LoopCrashedError` and send what never started to the next thread).
   */
  | { type: 'close'; cancelPending: boolean; force?: boolean; restart?: boolean };

/** The call at `i` of a `calls` batch's `flat` (a negative `seq` there marks a call to claim first). */
export function flatCall(flat: readonly unknown[], i: number, limit: number): CallMessage {
  const seq = flat[i] as number;
  const call: CallMessage = { type: 'call', seq: Math.abs(seq), fn: flat[i + 1] as string, args: flat[i + 2] as unknown[], kind: 'task', limit };
  if (seq < 0) call.claim = true;
  return call;
}

/** A call's outcome; `ms` is how long it ran in the loop. */
export type ResultMessage =
  | { type: 'result'; seq: number; ok: true; value: unknown; ms?: number }
  | { type: 'result'; seq: number; ok: false; error: WireThrown; ms?: number };

/**
 * Loop to caller. `results` carries several results to a pool, flat: `seq, ok, value (or encoded error), ms` for
 * each result in turn.
 */
export type FromLoop =
  | { type: 'ready'; initValue: unknown; exports: string[]; generators: string[]; health: boolean }
  | { type: 'init-failed'; error: WireThrown }
  | ResultMessage
  | { type: 'results'; flat: unknown[] }
  | { type: 'event'; event: string; payload: unknown; taskId: string | undefined }
  | { type: 'progress'; seq: number; value: unknown }
  | { type: 'item'; seq: number; value: unknown }
  | { type: 'service-ready'; seq: number; value: unknown }
  | { type: 'pong'; seq: number }
  | { type: 'closed'; error?: WireThrown }
  /** `currentLoop().restart(reason)`: the loop asks its owner for a fresh thread. */
  | { type: 'restart'; reason: WireThrown };

/**
 * The thread that started a loop, to a thread connected through `share()`, over the share's own channel (the handle's
 * port): the loop's supervision. `open` hands a connection to the loop's current thread (the first one with the
 * handle, a fresh one after each restart); `restarting` says the current thread is being replaced (`reason`);
 * `refuse` says no thread will take calls again (`state` closing, closed, crashed or failed; `error` what calls
 * are refused with). The owner bumps the share's wake word (SHARE_WAKE) after each, for a caller blocked on it.
 */
export type ToShare =
  | {
    type: 'open'; port: MessagePortLike; bell: SharedArrayBuffer; control: SharedArrayBuffer; threadId: number;
    initValue: unknown; exports: string[]; generators: string[];
  }
  | { type: 'restarting'; reason: WireThrown }
  | { type: 'refuse'; state: 'closing' | 'closed' | 'crashed' | 'failed'; error: WireThrown };

/** The share's wake word (an Int32Array of one slot), bumped and notified after every ToShare message. */
export const SHARE_WAKE = 0;

/** The part of MessagePort both sides use (keeps this file free of runtime imports). */
export interface MessagePortLike {
  postMessage(value: unknown, transferList?: readonly unknown[]): void;
}

/** Per-connection bell (Int32Array): the loop bumps BELL_SEQ after every message it posts to that connection. */
export const BELL_SEQ = 0;
/** Highest `seq` of this connection the loop has started running (tasks start in order). */
export const BELL_STARTED = 1;
/** First of CLAIM_SLOTS claim words (claims.ts): pool tasks sent ahead, which the pool may still take back. */
export const BELL_CLAIMS = 2;
export const CLAIM_SLOTS = 32;
/** First of CANCEL_SLOTS cancel marks (cancel-marks.ts): running calls the caller cancelled, readable without a message. */
export const BELL_CANCELS = BELL_CLAIMS + CLAIM_SLOTS;
export const CANCEL_SLOTS = 32;
export const BELL_SLOTS = BELL_CANCELS + CANCEL_SLOTS;

/** Per-loop control block (Int32Array). */
export const CTRL_STATE = 0;
/** Bumped by callers after posting, so a loop lingering after its work wakes at once. */
export const CTRL_WAKE = 1;
/** Bumped by the loop's own timer; a watchdog sees a blocked loop by this standing still. */
export const CTRL_HEARTBEAT = 2;
/** Exit code the loop's thread set on its way out (valid when CTRL_STATE is STATE_DEAD). */
export const CTRL_EXIT_CODE = 3;
export const CTRL_RUNNING = 4;
export const CTRL_COMPLETED = 5;
export const CTRL_FAILED = 6;
export const CTRL_CANCELLED = 7;
/** Number of the task running when the heartbeat was last bumped (watchdog names it). */
export const CTRL_CURRENT_TASK = 8;
/**
 * 1 while the loop's thread is handling calls or lingering after them (it reads the next call within microseconds),
 * 0 once it went back to its event loop: a blocked caller spins only while it is 1 and CTRL_PARKED is 0 (spinning
 * for a thread that has to be woken first only takes a core from it).
 */
export const CTRL_AWAKE = 9;
/**
 * 1 while the lingering loop sleeps on CTRL_WAKE: only then does a caller need to Atomics.notify it, and a blocked
 * caller does not spin for it.
 */
export const CTRL_PARKED = 10;
/**
 * 1 once the loop's thread has posted its 'closed' to its owner, the last message it sends there: every answer it
 * gave is queued ahead of it on that port. Its owner handles the thread's exit once it has read that message
 * (incarnation.ts).
 */
export const CTRL_SAID_CLOSED = 11;
export const CTRL_SLOTS = 16;

/**
 * After posting to a loop: bumps its wake counter, and wakes it if it sleeps on it. The loop sets CTRL_PARKED before
 * it sleeps and sleeps only if the counter has not moved; with sequentially consistent atomics one of the two sides
 * sees the other, so no wake is lost, and a loop that is not parked costs no futex call.
 */
export function ringWake(ctrl: Int32Array): void {
  Atomics.add(ctrl, CTRL_WAKE, 1);
  if (Atomics.load(ctrl, CTRL_PARKED) === 1) Atomics.notify(ctrl, CTRL_WAKE, 1);
}

/** Event-loop delay of the loop thread, in ms (Float64Array view after the Int32 slots). */
export const DELAY_P50 = 0;
export const DELAY_P99 = 1;
export const DELAY_MAX = 2;
export const DELAY_MEAN = 3;
export const DELAY_SLOTS = 4;

export const STATE_STARTING = 0;
export const STATE_READY = 1;
export const STATE_CLOSING = 2;
export const STATE_DEAD = 3;

export const CONTROL_BYTES = CTRL_SLOTS * 4 + DELAY_SLOTS * 8;

/** Views over the loop's control SharedArrayBuffer. */
export function controlViews(buffer: SharedArrayBuffer): { ctrl: Int32Array; delay: Float64Array } {
  return { ctrl: new Int32Array(buffer, 0, CTRL_SLOTS), delay: new Float64Array(buffer, CTRL_SLOTS * 4, DELAY_SLOTS) };
}

/** Data the loop thread starts with. */
export interface LoopBootData {
  name: string;
  moduleUrl: string;
  initArgs: unknown[];
  control: SharedArrayBuffer;
  port: MessagePortLike;
  bell: SharedArrayBuffer;
  unhandledRejections: 'crash' | 'report';
  /** Modules to import before the loop module (extensions.ts). */
  threadModules?: string[];
}

/** The connection a loop opens to itself for `currentLoop()`. */
export const SELF_CONN = -1;

/** A task's public id, the same on both sides: `<loop>:<seq>` for the owner's calls, `<loop>:<conn>.<seq>` else. */
export function taskIdOf(loop: string, conn: number, seq: number): string {
  if (conn === 0) return `${loop}:${seq}`;
  return conn === SELF_CONN ? `${loop}:self.${seq}` : `${loop}:${conn}.${seq}`;
}

const RESERVED_PREFIXES = ['task:', 'service:', 'loop:', 'source:'];
/** Reserved names that sideloop's own subpaths emit from inside a loop (`sideloop/sources`: `source:dead`, ...). */
const SUBPATH_PREFIXES = ['source:'];
const RESERVED_NAMES = new Set(['crash', 'error', 'close', 'callbackError']);

export function isReservedEvent(event: string): boolean {
  return RESERVED_NAMES.has(event) || RESERVED_PREFIXES.some((prefix) => event.startsWith(prefix));
}

export function isSubpathEvent(event: string): boolean {
  return SUBPATH_PREFIXES.some((prefix) => event.startsWith(prefix));
}

/**
 * One thread of a loop this thread started, from spawn to exit: the thread, its owner's connection, the ready
 * handshake, and how it ended (closed cleanly, or crashed, with the error every caller it leaves gets). A loop with a
 * restart policy goes through several; the supervisor (owned-core.ts) decides what comes next. Its start and its end
 * can also be seen without the event loop, by a caller blocked on the loop (`pump`).
 */
import type { ResolvedLoopOptions } from '../options.ts';
import type { LoopCrashedError } from '../errors.ts';
import { BELL_SEQ, CTRL_EXIT_CODE, CTRL_SAID_CLOSED, CTRL_STATE, STATE_DEAD, type FromLoop } from '../thread/protocol.ts';
import { crashError, SpawnedThread, type ReadyInfo } from '../thread/spawn.ts';
import { Connection, type SeqSource } from './connection.ts';

/**
 * How long (ms) the exit of a thread that said it closed waits for that 'closed' to be read, at most. The message is
 * already queued on the port, so it comes within an event-loop turn or two; this only bounds a runtime that would not
 * deliver it: the exit is then handled without it (as a crash).
 */
const CLOSED_READ_MS = 1000;

export interface IncarnationHooks {
  onEvent(event: string, payload: unknown, taskId: string | undefined): void;
  onCallbackError(error: unknown, taskId: string): void;
  /** The loop asked for a fresh thread. */
  onRestart(incarnation: Incarnation, reason: unknown): void;
  /** The thread ended; `crash` is set unless it closed cleanly. Called once, from its 'exit' or from `pump`. */
  onExit(incarnation: Incarnation, crash: LoopCrashedError | undefined): void;
  /** Whether the loop is closing (its thread then keeps the process alive until it ends). */
  closing(): boolean;
}

export class Incarnation {
  readonly thread: SpawnedThread;
  readonly conn: Connection;
  /** Bells of the connections `share()` opened to this thread: rung when it ends, so no blocked caller waits on. */
  readonly shareBells: Int32Array[] = [];
  /** The supervisor ended this thread on purpose (a restart): its end is not a crash of the loop. */
  retiring = false;
  /** Why it was retired (what `restart()` was given, or the failed health check's error). */
  retiredFor: unknown;
  /** `init` returned on this thread. */
  ready = false;
  /** Its end was handled. */
  exited = false;
  /** Resolves once its end was handled (onExit has run). */
  readonly ended: Promise<void>;
  #settleEnded!: () => void;
  readonly #hooks: IncarnationHooks;
  #closedCleanly = false;
  /** Its 'closed' was read. */
  #closedRead = false;
  /** The exit code of a thread whose exit waits for its 'closed' to be read, and the timer that bounds that wait. */
  #exitCode: number | undefined;
  #closedWait: NodeJS.Timeout | undefined;
  #onBoot: ((message: FromLoop) => void) | undefined;
  /** Settles the handshake when its readyTimeout passed or the thread died, for a blocked caller. */
  #checkBoot: (() => void) | undefined;

  constructor(moduleUrl: string, options: ResolvedLoopOptions, name: string, seqs: SeqSource, hooks: IncarnationHooks) {
    this.#hooks = hooks;
    this.ended = new Promise((resolve) => (this.#settleEnded = resolve));
    const thread = (this.thread = new SpawnedThread(`Loop "${name}"`, `sideloop:${name}`, name, moduleUrl, options));
    this.conn = new Connection(name, 0, thread.port, thread.bell, thread.ctrl, {
      onEvent: (event, payload, taskId) => hooks.onEvent(event, payload, taskId),
      onCallbackError: (error, taskId) => hooks.onCallbackError(error, taskId),
      onActive: (active) => (active || hooks.closing() ? thread.worker.ref() : thread.worker.unref()),
      probeDead: () => thread.probeDead(),
      onDead: () => this.#exit(Atomics.load(thread.ctrl, CTRL_STATE) === STATE_DEAD ? Atomics.load(thread.ctrl, CTRL_EXIT_CODE) : 1),
      onBoot: (message) => this.#onBoot?.(message),
      onRestart: (reason) => hooks.onRestart(this, reason),
    }, seqs);
    this.conn.loopThreadId = thread.worker.threadId;
    void thread.exited.then((code) => this.#exited(code));
  }

  get threadId(): number {
    return this.thread.worker.threadId;
  }

  /**
   * The thread's 'exit' event. A thread that closed posted its 'closed' last, behind all its answers; until that
   * message has been read, the exit waits for it (CLOSED_READ_MS at most), and the port's own 'message' events bring
   * it and every answer before it, in order. Reading the port synchronously here instead (#exit's drainNow) is not
   * safe on Deno: there a message its port's receive loop has already taken, and has not dispatched yet, is skipped
   * by receiveMessageOnPort, which returns the messages behind it, so answers would be read after the end they
   * precede, or the 'closed' missed (scripts/deno-port-order.js shows it).
   */
  #exited(code: number): void {
    if (this.exited || this.#exitCode !== undefined) return;
    if (this.#closedRead || Atomics.load(this.thread.ctrl, CTRL_SAID_CLOSED) !== 1) {
      this.#exit(code);
      return;
    }
    this.#exitCode = code;
    this.#closedWait = setTimeout(() => this.#exit(code), CLOSED_READ_MS);
  }

  /** The thread ended (seen by its 'exit' event, or by a blocked caller): everything it posted is read first. */
  #exit(code: number): void {
    if (this.exited) return;
    this.exited = true;
    clearTimeout(this.#closedWait);
    this.conn.drainNow();
    Atomics.store(this.thread.ctrl, CTRL_STATE, STATE_DEAD);
    for (const bell of this.shareBells) {
      Atomics.add(bell, BELL_SEQ, 1);
      Atomics.notify(bell, BELL_SEQ);
    }
    this.#hooks.onExit(this, this.#closedCleanly ? undefined : crashError(this.thread.label, code, this.thread.threadError));
    this.#settleEnded();
  }

  /**
   * Waits for `init`: `done` is called once, with the ready info or a `LoopInitError` (the thread is then ended),
   * synchronously from the message, timer or exit that settles it, or from `pump`.
   */
  boot(readyTimeout: number, done: (error: Error | undefined, ready?: ReadyInfo) => void): void {
    const watch = this.thread.watchHandshake(readyTimeout, (hook) => (this.#onBoot = hook ?? ((m) => this.#onMessage(m))), (error, ready) => {
      this.#checkBoot = undefined;
      if (ready) {
        this.conn.setExports(ready.exports, ready.generators);
        this.thread.worker.unref();
        this.ready = true;
      }
      done(error, ready);
    });
    if (!this.ready) this.#checkBoot = () => watch.check();
  }

  /**
   * For a caller blocked on the loop: reads what the thread posted (its ready answer, results), notices its end,
   * and otherwise sleeps on its bell until `until` at most.
   */
  pump(until: number): void {
    const seen = Atomics.load(this.thread.bell, BELL_SEQ);
    this.conn.drainNow();
    this.#checkBoot?.();
    if (!this.exited && this.thread.deadNow()) {
      this.#exit(Atomics.load(this.thread.ctrl, CTRL_STATE) === STATE_DEAD ? Atomics.load(this.thread.ctrl, CTRL_EXIT_CODE) : 1);
      return;
    }
    const left = until - performance.now();
    if (left > 0 && !this.exited) Atomics.wait(this.thread.bell, BELL_SEQ, seen, Math.min(left, 10));
  }

  #onMessage(message: FromLoop): void {
    if (message.type !== 'closed') return;
    this.#closedCleanly = message.error === undefined;
    this.#closedRead = true;
    if (this.#exitCode !== undefined) this.#exit(this.#exitCode);
  }

  /**
   * Ends the thread for a restart: nothing more starts there, what runs is cancelled (its callers get the restart's
   * `LoopCrashedError`), `dispose()` runs, and the thread is ended soon after.
   */
  retire(reason: unknown): NodeJS.Timeout {
    this.retiring = true;
    this.retiredFor = reason;
    this.thread.worker.ref();
    return this.thread.forceClose((message) => this.conn.send(message), true);
  }
}

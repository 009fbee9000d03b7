/**
 * One thread of a loop this thread started, from spawn to exit: the thread, its owner's connection, the ready
 * handshake, and how it ended (closed cleanly, or crashed, with the error every caller it leaves gets). A loop with a
 * restart policy goes through several; the supervisor (owned-core.ts) decides what comes next.
 */
import type { ResolvedLoopOptions } from '../options.ts';
import type { LoopCrashedError } from '../errors.ts';
import { BELL_SEQ, CTRL_STATE, STATE_DEAD, type FromLoop } from '../thread/protocol.ts';
import { crashError, SpawnedThread, type ReadyInfo } from '../thread/spawn.ts';
import { Connection, type SeqSource } from './connection.ts';

export interface IncarnationHooks {
  onEvent(event: string, payload: unknown, taskId: string | undefined): void;
  onCallbackError(error: unknown, taskId: string): void;
  /** The loop asked for a fresh thread. */
  onRestart(incarnation: Incarnation, reason: unknown): void;
  /** A blocked caller found the thread dead: the loop's state must say so before the caller is told. */
  onDead(incarnation: Incarnation): void;
  /** The thread ended; `crash` is set unless it closed cleanly. */
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
  #closedCleanly = false;
  #onBoot: ((message: FromLoop) => void) | undefined;

  constructor(moduleUrl: string, options: ResolvedLoopOptions, name: string, seqs: SeqSource, hooks: IncarnationHooks) {
    const thread = (this.thread = new SpawnedThread(`Loop "${name}"`, `sideloop:${name}`, name, moduleUrl, options));
    this.conn = new Connection(name, 0, thread.port, thread.bell, thread.ctrl, {
      onEvent: (event, payload, taskId) => hooks.onEvent(event, payload, taskId),
      onCallbackError: (error, taskId) => hooks.onCallbackError(error, taskId),
      onActive: (active) => (active || hooks.closing() ? thread.worker.ref() : thread.worker.unref()),
      probeDead: () => thread.probeDead(),
      onDead: () => hooks.onDead(this),
      onBoot: (message) => this.#onBoot?.(message),
      onRestart: (reason) => hooks.onRestart(this, reason),
    }, seqs);
    this.conn.loopThreadId = thread.worker.threadId;
    void thread.exited.then((code) => {
      // Whatever the thread posted before it ended (results, events, 'closed') is read before judging the exit.
      this.conn.drainNow();
      Atomics.store(thread.ctrl, CTRL_STATE, STATE_DEAD);
      for (const bell of this.shareBells) {
        Atomics.add(bell, BELL_SEQ, 1);
        Atomics.notify(bell, BELL_SEQ);
      }
      hooks.onExit(this, this.#closedCleanly ? undefined : crashError(thread.label, code, thread.threadError));
    });
  }

  get threadId(): number {
    return this.thread.worker.threadId;
  }

  /** Resolves once `init` returned; rejects with `LoopInitError` (the thread is then ended). */
  async boot(readyTimeout: number): Promise<ReadyInfo> {
    const ready = await this.thread.handshake(readyTimeout, (hook) => (this.#onBoot = hook ?? ((m) => this.#onMessage(m))));
    this.conn.setExports(ready.exports, ready.generators);
    this.thread.worker.unref();
    this.ready = true;
    return ready;
  }

  #onMessage(message: FromLoop): void {
    if (message.type === 'closed') this.#closedCleanly = message.error === undefined;
  }

  /** Ends the thread for a restart: what runs is cancelled, `dispose()` runs, and the thread is ended soon after. */
  retire(reason: unknown): NodeJS.Timeout {
    this.retiring = true;
    this.retiredFor = reason;
    this.thread.worker.ref();
    return this.thread.forceClose((message) => this.conn.send(message));
  }
}

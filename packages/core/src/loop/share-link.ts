/**
 * The owner's end of one `share()`: a channel of its own to the connected thread, which outlives the loop's threads.
 * Over it the owner hands that thread a connection to each thread of the loop as it becomes ready (the first one with
 * the handle, a fresh one after every restart), and says when the loop restarts or is gone for good (`ToShare`).
 * After each message it bumps the share's wake word, so a caller blocked there sees it without its event loop.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { encodeThrown } from '../error-codec.ts';
import { SHARE_WAKE, type ToShare } from '../thread/protocol.ts';
import { newBell } from '../thread/spawn.ts';
import type { SharedLoopHandle } from './core.ts';
import type { Incarnation } from './incarnation.ts';

/** What a ready thread of the loop told its owner, for the threads connected to it. */
export interface ReadyLoop {
  initValue: unknown;
  exports: string[];
  generators: string[];
}

export class ShareLink {
  readonly conn: number;
  readonly handle: SharedLoopHandle;
  readonly #port: MessagePort;
  readonly #wake: Int32Array;
  #gone = false;

  /** `onGone` runs once the connected thread has let go of the share (closed, or ended). */
  constructor(name: string, conn: number, restartsOnCrash: boolean, onGone: (link: ShareLink) => void) {
    this.conn = conn;
    const { port1, port2 } = new MessageChannel();
    const wake = new SharedArrayBuffer(4);
    this.#port = port1;
    this.#wake = new Int32Array(wake);
    this.handle = { kind: 'sideloop.loop', name, conn, port: port2, wake, restartsOnCrash };
    port1.on('close', () => {
      this.#gone = true;
      onGone(this);
    });
    port1.unref();
  }

  /** Opens a connection for the connected thread to `incarnation`, which is ready. */
  open(incarnation: Incarnation, ready: ReadyLoop): void {
    if (this.#gone) return;
    const { port1, port2 } = new MessageChannel();
    const bell = newBell();
    incarnation.conn.send({ type: 'connect', conn: this.conn, port: port2, bell }, [port2]);
    incarnation.shareBells.push(new Int32Array(bell));
    this.#post({
      type: 'open', port: port1, bell, control: incarnation.thread.control, threadId: incarnation.threadId,
      initValue: ready.initValue, exports: ready.exports, generators: ready.generators,
    }, [port1]);
  }

  /** The loop's thread is being replaced (`reason`): calls wait for the next one. */
  restarting(reason: unknown): void {
    this.#post({ type: 'restarting', reason: encodeThrown(reason) });
  }

  /** No thread takes calls again: they are refused with `error`. */
  refuse(state: 'closing' | 'closed' | 'crashed' | 'failed', error: Error): void {
    this.#post({ type: 'refuse', state, error: encodeThrown(error) });
  }

  #post(message: ToShare, transferList?: MessagePort[]): void {
    if (this.#gone) return;
    try {
      this.#port.postMessage(message, transferList);
    } catch {
      return; // the connected thread is gone
    }
    Atomics.add(this.#wake, SHARE_WAKE, 1);
    Atomics.notify(this.#wake, SHARE_WAKE);
  }
}

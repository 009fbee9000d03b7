/**
 * The thread's side of attachments (thread/attach.ts): subpath modules run beside the loop module. Each is imported
 * and its `attachThread(host, data, port)` called; what it returns is closed before the loop closes, gracefully
 * (its running work finishes) or not (its work is handed back or cancelled at once, for a forced close or a restart).
 */
import type { MessagePort } from 'node:worker_threads';
import { encodeThrown } from '../error-codec.ts';
import type { TaskContext } from './context.ts';

/** What the loop offers an attachment. */
export interface ThreadHost {
  /** The loop's name. */
  readonly loop: string;
  /**
   * Runs the module's export `fn` with `args` as a call does (`taskContext()` returns `context`, `meta` restores the
   * caller's trace), counted in the loop's stats. Rejects with `UnknownFunctionError` as a call does.
   */
  run(fn: string, args: unknown[], context: TaskContext, meta: string | undefined): Promise<unknown>;
  /** Emits a loop event as a call's `emit` does (`taskId` names the call). */
  emit(event: string, payload: unknown, taskId: string | undefined): void;
}

export interface AttachedThread {
  /** Stops the attachment; `graceful` lets its running work finish. Called again with `false` to stop waiting. */
  close(graceful: boolean): Promise<void>;
}

/** What an attachment module exports as `attachThread`. */
export type AttachThread = (host: ThreadHost, data: unknown, port: MessagePort) => AttachedThread | Promise<AttachedThread>;

export class ThreadAttachments {
  readonly #attached: Array<Promise<AttachedThread | undefined>> = [];

  add(url: string, data: unknown, port: MessagePort, host: ThreadHost): void {
    this.#attached.push((async () => {
      try {
        const mod = (await import(url)) as { attachThread?: AttachThread };
        if (typeof mod.attachThread !== 'function') throw new TypeError(`The module ${url} exports no attachThread function`);
        return await mod.attachThread(host, data, port);
      } catch (error) {
        // The owner's end learns why; the loop itself goes on.
        port.postMessage({ type: 'attach-failed', error: encodeThrown(error) });
        port.close();
        return undefined;
      }
    })());
  }

  close(graceful: boolean): Promise<void> {
    return Promise.all(this.#attached.map(async (pending) => {
      try {
        await (await pending)?.close(graceful);
      } catch {
        // an attachment's failure to close does not stop the loop's close
      }
    })).then(() => {});
  }
}

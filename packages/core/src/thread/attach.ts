/**
 * Attachments: code of sideloop's own subpaths that runs inside a loop's or a pool's threads, beside the loop module
 * (the durable-task worker of `sideloop/cluster`, for one, so that a job does not cross threads). The owner sends
 * each thread an `attach` message with a module URL, data for it and one end of a new channel; the thread imports
 * the module and calls its `attachThread` (worker/attachments.ts). Threads that start later (a restart, a pool
 * growing or replacing a thread) get every attachment still held, once they are ready.
 */
import { MessageChannel, type MessagePort, type TransferListItem } from 'node:worker_threads';
import type { ToLoop } from './protocol.ts';

export interface ThreadAttachment {
  /** The module every thread imports; it exports `attachThread` (worker/attachments.ts's `AttachThread`). */
  readonly url: string;
  /** What `attachThread` gets (structured-cloned). */
  readonly data: unknown;
  /** Called with the owner's end of the channel to each thread that is given the attachment. */
  onThread(port: MessagePort): void;
}

/** `Handle[ATTACH](attachment)`: attaches to the target's threads; returns the detach, or undefined when it cannot. */
export const ATTACH = Symbol.for('sideloop.attach');

/** The attachments a loop or pool holds, given to each of its threads once ready. */
export class Attachments {
  readonly #held = new Set<ThreadAttachment>();

  get size(): number {
    return this.#held.size;
  }

  /** Holds `attachment` for the threads to come; returns what drops it (threads already given it keep it). */
  add(attachment: ThreadAttachment): () => void {
    this.#held.add(attachment);
    return () => void this.#held.delete(attachment);
  }

  /** Gives one thread every attachment held (a thread that just became ready). */
  giveAll(send: (message: ToLoop, transferList: TransferListItem[]) => void): void {
    for (const attachment of this.#held) give(attachment, send);
  }
}

/** Gives one thread `attachment`: a new channel, one end to the thread, the other to the attachment's owner. */
export function give(attachment: ThreadAttachment, send: (message: ToLoop, transferList: TransferListItem[]) => void): void {
  const { port1, port2 } = new MessageChannel();
  send({ type: 'attach', url: attachment.url, data: attachment.data, port: port2 }, [port2]);
  attachment.onThread(port1);
}

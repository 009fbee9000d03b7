/**
 * The demo's `feed` service: a small producer fills an in-process queue, the service consumes it and emits
 * `item_added` for every message, until its signal aborts (stop, close).
 */
import { taskContext } from 'sideloop/worker';
import { AsyncQueue } from './queue.ts';

export interface FeedItem {
  seq: number;
  kind: string;
  text: string;
  at: number;
}

const KINDS = ['order', 'signup', 'alert', 'comment'] as const;

/** Starts the producer (one message every `intervalMs`) and consumes the queue until stopped; returns the count. */
export async function feed(options: { intervalMs?: number } = {}): Promise<number> {
  const ctx = taskContext();
  const intervalMs = options.intervalMs ?? 500;
  const queue = new AsyncQueue<FeedItem>();
  let produced = 0;
  const producer = setInterval(() => {
    produced += 1;
    const kind = KINDS[produced % KINDS.length]!;
    queue.push({ seq: produced, kind, text: `${kind} #${produced}`, at: Date.now() });
  }, intervalMs);
  ctx.ready({ intervalMs });
  let consumed = 0;
  try {
    while (!ctx.signal.aborted) {
      let item: FeedItem;
      try {
        item = await queue.take(ctx.signal);
      } catch (error) {
        if (ctx.signal.aborted) break;
        throw error;
      }
      consumed += 1;
      ctx.emit('item_added', item);
    }
  } finally {
    clearInterval(producer);
  }
  return consumed;
}

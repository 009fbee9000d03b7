// A service consuming an in-process queue fed by tasks, emitting an event per message.
import { taskContext } from 'sideloop/worker';

const queue = [];
let wake;

export function enqueue(message) {
  queue.push(message);
  wake?.();
  return queue.length;
}

export async function consume() {
  const { signal, ready, emit } = taskContext();
  ready({ queue: 'memory' });
  let processed = 0;
  signal.addEventListener('abort', () => wake?.(), { once: true });
  for (;;) {
    while (queue.length > 0) {
      emit('item_added', queue.shift());
      processed++;
    }
    if (signal.aborted) return processed;
    await new Promise((resolve) => (wake = resolve));
  }
}

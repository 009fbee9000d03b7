// A loop holding a long-lived session: opened once in init, used by every task, closed in dispose.
import { taskContext } from 'sideloop/worker';

let session;

export async function init(name) {
  await new Promise((resolve) => setTimeout(resolve, 50)); // connecting...
  session = { name, queries: 0 };
  return { session: name };
}

export async function lookup(key) {
  const { signal } = taskContext();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, key === 'slow' ? 10_000 : 20);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });
  session.queries++;
  return `${session.name}:${key}`;
}

export function dispose() {
  console.log(`session closed after ${session.queries} queries`);
}

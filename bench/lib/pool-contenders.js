// The contenders of the pool scenarios (pool-tiny, pool-inflight): each a pool of 2 threads whose `one()` runs one
// tiny task (add(1, 2)) and resolves with 3. The SharedArrayBuffer ring has no per-task promise, so it brings its
// own `batch`.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import Tinypool from 'tinypool';
import { RawClient } from './raw-client.js';

const THREADS = 2;
const fixture = (name) => new URL(`../fixtures/${name}`, import.meta.url);

async function sideloop() {
  try {
    return await import('sideloop');
  } catch (error) {
    throw new Error(`cannot load the built package (run \`npm run build\`): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

function sideloopContender(label, note, extra) {
  let pool;
  return {
    label,
    note,
    setup: async () => {
      const { startPool } = await sideloop();
      pool = await startPool(fixture('pool-loop.js'), { name: 'bench', minThreads: THREADS, maxThreads: THREADS, ...extra });
    },
    one: () => pool.submit('add', 1, 2),
    teardown: () => pool.close(),
  };
}

/** Hand-written: 2 workers, one postMessage per task, replies matched by id, requests alternate between workers. */
function rawContender() {
  const clients = [new RawClient(), new RawClient()];
  let turn = 0;
  return {
    label: 'raw MessagePort',
    note: '2 workers, postMessage per task, pipelined, replies matched by id',
    setup: () => Promise.all(clients.map((client) => client.start(fixture('raw-add-worker.js')))),
    one: () => clients[(turn += 1) & 1].request({ a: 1, b: 2 }),
    teardown: () => Promise.all(clients.map((client) => client.close())),
  };
}

/** Hand-written: a SharedArrayBuffer ring per worker, requests and answers in shared memory, no messages at all. */
function ringContender() {
  const SLOTS = 4096;
  const rings = [];
  const drive = async (ring, n) => {
    const { ctl, req, res } = ring;
    let sent = 0;
    let done = 0;
    while (done < n) {
      const free = SLOTS - (ring.head - ring.tail);
      const k = Math.min(free, n - sent);
      for (let i = 0; i < k; i += 1) {
        const at = (ring.head + i) % SLOTS;
        req[at * 2] = 1;
        req[at * 2 + 1] = 2;
      }
      ring.head += k;
      sent += k;
      Atomics.store(ctl, 0, ring.head);
      Atomics.notify(ctl, 0);
      let answered = Atomics.load(ctl, 2);
      if (answered === ring.tail) {
        const wait = Atomics.waitAsync(ctl, 2, answered);
        if (wait.async) await wait.value;
        answered = Atomics.load(ctl, 2);
      }
      for (; ring.tail < answered; ring.tail += 1, done += 1) {
        if (res[ring.tail % SLOTS] !== 3) throw new Error('ring: wrong answer');
      }
    }
  };
  return {
    label: 'raw SharedArrayBuffer ring',
    note: '2 workers parked in Atomics.wait, requests and answers in a shared ring (no promise per task)',
    setup: async () => {
      for (let w = 0; w < THREADS; w += 1) {
        const shared = new SharedArrayBuffer(16 + SLOTS * 16 + SLOTS * 8);
        const worker = new Worker(fixture('pool-ring-worker.js'), { workerData: { shared, slots: SLOTS } });
        await once(worker, 'online');
        rings.push({
          worker, head: 0, tail: 0, ctl: new Int32Array(shared, 0, 4),
          req: new Float64Array(shared, 16, SLOTS * 2), res: new Float64Array(shared, 16 + SLOTS * 16, SLOTS),
        });
      }
    },
    batch: (n) => Promise.all(rings.map((ring, i) => drive(ring, Math.floor(n / THREADS) + (i < n % THREADS ? 1 : 0)))),
    teardown: () => Promise.all(rings.map((ring) => ring.worker.terminate())),
  };
}

export function poolContenders() {
  let piscina;
  let tinypool;
  return [
    sideloopContender('sideloop', "pool.submit('add', 1, 2), 2 threads, default options", {}),
    sideloopContender('sideloop, call sites', "same, with captureCallSites: true (each submit's stack kept for errors)", { captureCallSites: true }),
    {
      label: 'Piscina',
      note: 'piscina.run({ a: 1, b: 2 }), 2 threads, default options',
      setup: () => {
        piscina = new Piscina({ filename: fixture('pool-anchor-worker.js').href, minThreads: THREADS, maxThreads: THREADS });
      },
      one: () => piscina.run({ a: 1, b: 2 }),
      teardown: () => piscina.close(),
    },
    {
      label: 'Tinypool',
      note: 'tinypool.run({ a: 1, b: 2 }), 2 threads, default options',
      setup: () => {
        tinypool = new Tinypool({ filename: fixture('pool-anchor-worker.js').href, minThreads: THREADS, maxThreads: THREADS });
      },
      one: () => tinypool.run({ a: 1, b: 2 }),
      teardown: () => tinypool.destroy(),
    },
    rawContender(),
    ringContender(),
  ];
}

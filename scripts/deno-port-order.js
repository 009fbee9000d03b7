#!/usr/bin/env node
// A minimal repro, with nothing of sideloop, of the Deno behaviour that lost a closing loop's last answers:
//   node scripts/deno-port-order.js [runs]
//   node_modules/.bin/deno run --allow-all scripts/deno-port-order.js [runs]
// A MessagePort with a 'message' listener is read with receiveMessageOnPort from outside that listener (here, one
// microtask after the worker's 'exit' event, which comes on another channel). Node returns the oldest message still
// queued. Deno can return the messages *behind* one that the port's receive loop has already taken off the channel and
// not dispatched yet; that one is dispatched afterwards, out of order ("event 1, drain 3, drain closed, event 2").
// Each run starts a worker that posts 1, 2, 3 and 'closed' on a MessageChannel of its own and exits; the main thread
// reads the port by its 'message' events and drains the rest once the worker has exited. It prints how many runs read
// the messages out of order, and exits with 1 if any did. (sideloop's loops now wait for a closed thread's 'closed'
// to come through the port's events before they handle its exit: packages/core/src/loop/incarnation.ts.)
import { MessageChannel, Worker, isMainThread, receiveMessageOnPort, workerData } from 'node:worker_threads';

const SENT = ['1', '2', '3', 'closed'];

if (!isMainThread) {
  for (const message of SENT) workerData.port.postMessage(message);
  process.exit(0);
} else {
  const runs = Number(process.argv[2] ?? 200);
  let outOfOrder = 0;
  let example;
  for (let run = 0; run < runs; run++) {
    const order = await once();
    if (order.map((entry) => entry.split(' ')[1]).join() !== SENT.join()) {
      outOfOrder++;
      example ??= order;
    }
  }
  const { deno, bun, node } = process.versions;
  console.log(`${deno ? `Deno ${deno}` : bun ? `Bun ${bun}` : `Node ${node}`}: ${outOfOrder} of ${runs} runs read the port out of order`);
  if (example) console.log(`for example (how each message was read, in the order read): ${example.join(', ')}`);
  process.exitCode = outOfOrder > 0 ? 1 : 0;
}

/** One worker: resolves with how each message was read ('event 2', 'drain closed'...), in the order read. */
function once() {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    const order = [];
    port1.on('message', (message) => order.push(`event ${message}`));
    const worker = new Worker(new URL(import.meta.url), { workerData: { port: port2 }, transferList: [port2] });
    void new Promise((exited) => worker.once('exit', exited)).then(() => {
      let received;
      while ((received = receiveMessageOnPort(port1)) !== undefined) order.push(`drain ${received.message}`);
      // A message the port's receive loop still holds is dispatched within a few turns.
      setTimeout(() => {
        port1.close();
        resolve(order);
      }, 50);
    });
  });
}

// A 1 MiB ArrayBuffer round trip: moved to the worker and moved back, against copying it both ways.
import assert from 'node:assert/strict';
import { move, Piscina } from 'piscina';
import { measureLatency } from '../lib/measure.js';
import { RawClient } from '../lib/raw-client.js';
import { fixture, startBenchLoop } from '../lib/sideloop.js';

const SIZE = 1024 * 1024;

export const name = 'transfer-1mib';
export const description = 'A 1 MiB ArrayBuffer sent to the worker, touched, and returned: transferred both ways (and cloned for reference).';
export const target = {
  text: 'sideloop transfer p50 <= 1.2 x raw transfer p50',
  metric: 'p50',
  better: 'lower',
  subject: 'sideloop transfer',
  anchor: 'raw transfer',
  limit: 1.2,
};

function checked(buffer) {
  assert.equal(buffer.byteLength, SIZE);
  return buffer;
}

export async function run({ quick }) {
  let loop;
  let transfer;
  const raw = new RawClient();
  let piscina;
  // Each transferring contender owns one buffer that travels back and forth; cloning ones keep theirs.
  let sideloopBuffer = new ArrayBuffer(SIZE);
  let rawBuffer = new ArrayBuffer(SIZE);
  let piscinaBuffer = new ArrayBuffer(SIZE);
  const clonedBuffer = new ArrayBuffer(SIZE);
  const contenders = [
    {
      label: 'sideloop transfer',
      note: "loop.submit('echoBuffer', transfer(buf, [buf]), true); the loop returns transfer(buf, [buf])",
      setup: async () => {
        ({ loop, transfer } = await startBenchLoop());
      },
      call: async () => {
        const sent = sideloopBuffer;
        sideloopBuffer = checked(await loop.submit('echoBuffer', transfer(sent, [sent]), true));
        assert.equal(sent.byteLength, 0, 'sideloop transfer: the argument buffer was copied, not moved');
      },
      teardown: () => loop.close(),
    },
    {
      label: 'raw transfer',
      note: 'postMessage({ buffer }, [buffer]) both ways',
      setup: () => raw.start(fixture('raw-echo-worker.js')),
      call: async () => {
        const sent = rawBuffer;
        rawBuffer = checked(await raw.request({ buffer: sent, move: true }, [sent]));
      },
    },
    {
      label: 'Piscina move',
      note: "piscina.run(move(buf), { name: 'echoMoved' }); the worker returns move(buf)",
      setup: () => {
        piscina = new Piscina({ filename: fixture('piscina-worker.js').href, minThreads: 1, maxThreads: 1 });
      },
      call: async () => {
        piscinaBuffer = checked(await piscina.run(move(piscinaBuffer), { name: 'echoMoved' }));
      },
      teardown: () => piscina.close(),
    },
    {
      label: 'sideloop clone',
      note: "loop.submit('echoBuffer', buf, false): copied both ways",
      call: async () => {
        checked(await loop.submit('echoBuffer', clonedBuffer, false));
      },
    },
    {
      label: 'raw clone',
      note: 'postMessage({ buffer }) both ways: copied',
      call: async () => {
        checked(await raw.request({ buffer: clonedBuffer, move: false }));
      },
      teardown: () => raw.close(),
    },
  ];
  const plan = quick ? { rounds: 4, batch: 60, warmup: 100 } : { rounds: 20, batch: 200, warmup: 500 };
  return measureLatency(contenders, plan);
}

// The hand-written request/response baseline: a worker_threads Worker, postMessage out, on('message') back,
// replies matched to requests by id. This is what a careful user writes without a library.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

export class RawClient {
  #worker;
  #pending = new Map();
  #nextId = 0;

  /** @param {URL} fixture worker module */
  async start(fixture) {
    this.#worker = new Worker(fixture);
    this.#worker.on('message', (message) => {
      const pending = this.#pending.get(message.id);
      if (pending === undefined) return;
      this.#pending.delete(message.id);
      pending.resolve(message.value);
    });
    this.#worker.on('error', (error) => {
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
    });
    await once(this.#worker, 'online');
  }

  /**
   * @param {Record<string, unknown>} message gets an `id`
   * @param {Transferable[]} [transferList]
   */
  request(message, transferList) {
    const id = (this.#nextId += 1);
    message.id = id;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage(message, transferList);
    });
  }

  async close() {
    await this.#worker.terminate();
  }
}

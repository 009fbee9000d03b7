/**
 * How the `sideloop serve` process uses memory. Its main thread routes requests and relays events: it allocates a
 * lot of short-lived garbage (every request body, every relayed value, every result coming back from a loop) and
 * little that lives. With V8's default heap sizing a burst of large messages grows the heap by hundreds of megabytes,
 * and an idle server keeps it: in `bench/server-probe.js` a client sending 600 calls of 256 KB took the server from
 * about 220 MB to 410-460 MB, and 30 s after it left the heap still held 146 MB of garbage a collection would free.
 *
 * `--optimize-for-size` makes V8 size the heap for memory rather than for allocation speed. Same probe: peak 216-235
 * MB, and 19 MB above the baseline 30 s after the client left. The price, measured in the same runs: a request of the
 * probe's soak (200 per second) takes about 0.1 ms longer at the median (1.26 to 1.38 ms) and at p99 (3.6-3.9 to
 * 4.0-4.2 ms); CPU-bound loop code measured no different. The CLI sets it for its own process (loops share it); an
 * application that embeds `startServer` decides for its process (`node --optimize-for-size app.js`).
 */
import { setFlagsFromString } from 'node:v8';

/** Applies the server's memory policy to this process; for the process's own entry point, before it starts work. */
export function favourMemory(): void {
  setFlagsFromString('--optimize-for-size');
}

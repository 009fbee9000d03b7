/**
 * Closing an HTTP server without waiting for keep-alive clients: `server.close()` stops new connections but leaves a
 * keep-alive connection open until its idle timeout (72 s under Fastify's defaults) once its last response is out.
 * While a server drains, every response ends its connection and idle connections close as soon as they are idle.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** How often idle connections are looked for while draining, in ms. */
const IDLE_SWEEP_MS = 25;

/** Starts ending `server`'s connections as they fall idle; returns the function that stops it. */
export function endConnectionsWhenIdle(server: Server): () => void {
  const endAfterResponse = (_request: IncomingMessage, response: ServerResponse): void => {
    response.shouldKeepAlive = false;
  };
  server.on('request', endAfterResponse);
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
  sweep.unref();
  return () => {
    clearInterval(sweep);
    server.off('request', endAfterResponse);
  };
}

/** `server.close()` that resolves once every connection ended, each as soon as its response was out. */
export function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  const stop = endConnectionsWhenIdle(server);
  return new Promise<void>((resolve) => server.close(() => resolve())).finally(stop);
}

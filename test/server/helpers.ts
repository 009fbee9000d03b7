// Shared helpers of the server tests: a real server on port 0 and small HTTP and Socket.IO clients.
import { io as connect, type Socket } from 'socket.io-client';
import { startServer, type RunningServer } from '../../packages/server/src/index.ts';
import type { ServerOptions } from '../../packages/server/src/server-options.ts';
import type { ClientToServerEvents, ServerToClientEvents } from '../../packages/core/src/socket-io/events.ts';

export const fixtureConfig = new URL('./fixtures/sideloop.config.ts', import.meta.url).pathname;

export type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

export function start(options: ServerOptions = {}): Promise<RunningServer> {
  return startServer({ config: fixtureConfig, port: 0, ...options });
}

export async function http(server: RunningServer, method: string, path: string, body?: unknown, headers: Record<string, string> = {}):
  Promise<{ status: number; body: any; headers: Headers }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const response = await fetch(server.url + path, init);
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (metrics, pages)
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export function client(server: RunningServer, options: Record<string, unknown> = {}): Client {
  return connect(server.url, { transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 100, ...options });
}

export function connected(socket: Client): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
}

/** Resolves with the first payload of `event` that passes `test`. */
export function next<T = any>(socket: Client, event: string, test: (payload: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const listener = (payload: T): void => {
      if (!test(payload)) return;
      socket.off(event, listener as never);
      resolve(payload);
    };
    socket.on(event, listener as never);
  });
}

/**
 * Records every `event` payload from now on, in `seen`; `wait(test)` resolves with the first that matches, received
 * already or later. For an event that may come before the code that waits for it runs: a task's `task:done` can
 * arrive in the same read as its submit's ack, before the ack's continuation registers a listener.
 */
export function record<T = any>(socket: Client, event: string): { seen: readonly T[]; wait(test: (payload: T) => boolean): Promise<T> } {
  const seen: T[] = [];
  const waiting: Array<{ test: (payload: T) => boolean; resolve: (payload: T) => void }> = [];
  socket.on(event, ((payload: T) => {
    seen.push(payload);
    for (let i = waiting.length - 1; i >= 0; i--) {
      if (!waiting[i]!.test(payload)) continue;
      waiting[i]!.resolve(payload);
      waiting.splice(i, 1);
    }
  }) as never);
  return {
    seen,
    wait: (test) => {
      const found = seen.find(test);
      return found !== undefined ? Promise.resolve(found) : new Promise((resolve) => waiting.push({ test, resolve }));
    },
  };
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// `sideloop serve --cluster` processes for the cluster server tests: each node a real CLI process on a free port,
// with the test config (test/server/fixtures/cluster.config.ts) under a prefix of the test's own.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../packages/core/src/socket-io/events.ts';

const cli = new URL('../../packages/server/src/cli.ts', import.meta.url).pathname;
export const clusterConfig = new URL('../server/fixtures/cluster.config.ts', import.meta.url).pathname;

export type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface ServeNode {
  name: string;
  child: ChildProcess;
  /** `http://127.0.0.1:port` */
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

export interface NodeOptions {
  /** Redis URL (`--cluster`). */
  redis: string;
  prefix: string;
  /** `--node` */
  name: string;
  /** What the node's results say ran them (TEST_NODE); default `name`. */
  label?: string;
  /** Loops and pools it serves; [] for none; default all. */
  serve?: string[];
  env?: Record<string, string>;
}

const running = new Set<ServeNode>();

/** Starts `sideloop serve --cluster` and resolves once it prints its dashboard URL. */
export async function startNode(options: NodeOptions): Promise<ServeNode> {
  const env: Record<string, string | undefined> = {
    ...process.env, CLUSTER_PREFIX: options.prefix, TEST_NODE: options.label ?? options.name, ...options.env,
  };
  delete env.SIDELOOP_TOKEN;
  if (options.serve) env.CLUSTER_SERVE = options.serve.length === 0 ? '-' : options.serve.join(',');
  const child = spawn(process.execPath, [cli, 'serve', clusterConfig, '--port', '0', '--cluster', options.redis, '--node', options.name], {
    stdio: ['ignore', 'pipe', 'pipe'], env,
  });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const match = /Dashboard: (http:\/\/\S+?)\/\S*\n/.exec(out);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`node ${options.name} exited with ${code} before it was ready: ${err}`)));
  });
  const node: ServeNode = { name: options.name, child, url, stderr: () => err, exited };
  running.add(node);
  void exited.then(() => running.delete(node));
  return node;
}

export async function kill(node: ServeNode, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
  node.child.kill(signal);
  return node.exited;
}

/** Stops every node still running (SIGKILL: what they ran is the cluster's to recover, and the prefix is dropped). */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((node) => kill(node)));
}

export async function http(node: ServeNode, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(node.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    // Nothing may hang: a request that gets no answer fails the test.
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

export async function client(node: ServeNode): Promise<Client> {
  const socket: Client = connect(node.url, { transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 200 });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

/** Submits over Socket.IO and resolves with the ack (`{ id }` or `{ error }`). */
export function submit(socket: Client, request: { loop: string; fn: string; args?: unknown[]; durable?: boolean }): Promise<{ id?: string; error?: { code: string } }> {
  return new Promise((resolve) => socket.emit('task:submit', request, resolve));
}

/** Polls `check` until it returns true. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeout = 60_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

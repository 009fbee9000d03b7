/**
 * `startServer(options)`: starts the loops and pools of a config (or the built-in demo), then serves the HTTP API,
 * the dashboard and Socket.IO on one port. `close()` drains: new work is refused, running work finishes (or is
 * cancelled after `shutdownTimeout`), then everything closes.
 */
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance } from 'fastify';
import type * as core from 'sideloop';
import { CancelledError } from 'sideloop';
import { Server } from 'socket.io';
import { demoConfig } from './demo/config.ts';
import { boundedRecoveryAdapter } from 'sideloop/socket.io';
import { attachRelay, type Relay, type RelayServer } from 'sideloop/socket.io';
import { exposedTarget, RequestError } from 'sideloop/remote';
import { limitSendBuffers } from 'sideloop/socket.io';
import type { TaskRequest } from 'sideloop/remote';
import type { RelayTarget, RelayTask } from 'sideloop/remote';
import { isLoopback, requireHttpToken, socketTokenError } from './auth.ts';
import { ServerCluster } from './cluster/server-cluster.ts';
import { clusterAdapter, type ClusterAdapter } from './cluster/socket-adapter.ts';
import { loadConfig, withCluster, type ResolvedConfig } from './config.ts';
import { healthOf, type HealthReport } from './health-model.ts';
import { registerApiRoutes, submitThrough } from './http-api.ts';
import { registerJsonBody } from './json-body.ts';
import { clientErrorHandler, frameworkErrors, registerErrorHandlers } from './http-errors.ts';
import { startLoopSet, type LoopSet } from './loop-set.ts';
import { createMetrics } from './metrics.ts';
import { ServerStartError } from './server-start-error.ts';
import { resolveServerOptions, type ServerOptions } from './server-options.ts';
import { registerSourceRoutes } from './source-routes.ts';
import { startDemoProducer } from './demo/producer.ts';
import { SOURCE_SERVICE } from './sources/host-module.ts';
import { openSources, type SourceSet } from './sources/source-set.ts';
import { registerStaticRoutes } from './static-routes.ts';
import { TaskRegistry, type TaskView } from './task-registry.ts';
import { WindowLimiter } from './window-limiter.ts';
import { traceRequests } from './request-spans.ts';

export interface RunningServer {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly config: ResolvedConfig;
  readonly app: FastifyInstance;
  readonly io: RelayServer;
  readonly loops: LoopSet;
  /** The queue sources of the config (docs/sources.md). */
  readonly sources: SourceSet;
  readonly relay: Relay;
  /** This server as a node of a cluster (`--cluster`), if it is one. */
  readonly cluster: ServerCluster | undefined;
  /** Drains and closes everything; idempotent. */
  close(): Promise<void>;
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const opts = resolveServerOptions(options);
  if (!isLoopback(opts.host) && opts.token === undefined) {
    throw new ServerStartError(`Listening on ${opts.host}, not a loopback address, needs a token: pass --token or set SIDELOOP_TOKEN`);
  }
  const loaded = opts.config === undefined ? demoConfig() : typeof opts.config === 'string' ? await loadConfig(opts.config) : opts.config;
  const config = withCluster(loaded, opts.cluster);
  const sources = await openSources(config, opts.log);
  let loops: LoopSet;
  try {
    loops = await startLoopSet(config);
  } catch (error) {
    await sources.close();
    throw error;
  }
  try {
    await sources.start(loops);
  } catch (error) {
    await sources.stop(2000);
    await loops.close({ timeout: 2000 });
    await sources.close();
    throw error;
  }
  let clusterNode: ServerCluster | undefined;
  if (config.cluster) {
    try {
      const sourceLoops = new Set(config.sources.filter((s) => s.ownLoop).map((s) => s.name));
      clusterNode = await ServerCluster.start(config.cluster, loops.targets, [...loops.targets.keys()].filter((name) => !sourceLoops.has(name)));
    } catch (error) {
      await sources.stop(2000);
      await loops.close({ timeout: 2000 });
      await sources.close();
      throw error;
    }
  }
  logServiceFailures(loops, opts.log);
  const stopProducer = config.producer ? startDemoProducer(sources, config.producer, opts.log) : undefined;

  let closing: Promise<void> | undefined;
  const targets = loops.targets;
  const registry = new TaskRegistry({
    keep: opts.keepTasks, maxBytes: opts.keepTaskBytes, maxValueBytes: opts.maxValueBytes,
    onSettled: (view, seconds) => metrics.observe(view, seconds),
  });
  const metrics = createMetrics(targets, registry, sources);
  const ready = (): boolean => closing === undefined && loops.ready();
  const submit = (request: TaskRequest): RelayTask => {
    if (closing) throw new RequestError('NOT_READY', 'The server is shutting down');
    const entry = exposedTarget(targets, request);
    if (!entry.durable && !request.durable) return submitThrough(targets, registry, request);
    if (!clusterNode) throw new RequestError('BAD_REQUEST', '`durable` tasks need a cluster: start the server with --cluster redis://…');
    const durable = clusterNode.submit(request.loop, request.fn, request.args);
    return registry.add(request.loop, request.fn, durable.task, durable);
  };
  const lookup = (id: string): TaskView | Promise<TaskView | undefined> | undefined => registry.get(id) ?? clusterNode?.view(id);
  const cancel = async (id: string): Promise<void> => {
    if (registry.isOpenDurable(id)) await registry.cancelDurable(id);
    else if (registry.get(id) || !clusterNode) registry.cancel(id);
    else await clusterNode.cancel(id, new CancelledError(undefined, 'Cancelled by the client'));
  };

  // In a cluster, Socket.IO broadcasts (and recovers sessions) through Redis streams, so every node's clients get them.
  const shared: ClusterAdapter | undefined = config.cluster && clusterAdapter(config.cluster, 10_000);
  const app = Fastify({
    bodyLimit: opts.bodyLimit,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // A request (headers and body) must arrive within requestTimeout; Node checks at this interval.
    requestTimeout: opts.requestTimeout,
    http: {
      headersTimeout: Math.min(60_000, opts.requestTimeout),
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(opts.requestTimeout / 4))),
    },
    // Far longer than any loop name (64) or task id (22), so a long one is unknown (404), not a framework error.
    routerOptions: { maxParamLength: 1024 },
    frameworkErrors,
    clientErrorHandler,
  });
  traceRequests(app);
  registerErrorHandlers(app);
  registerJsonBody(app);
  if (opts.rateLimit) {
    await app.register(rateLimit, {
      max: opts.rateLimit.max,
      timeWindow: opts.rateLimit.timeWindow,
      errorResponseBuilder: (_request, context) => new RequestError('RATE_LIMITED', `Too many requests: at most ${context.max} per ${context.after}`),
    });
  }
  const token = opts.token;
  if (token !== undefined) requireHttpToken(app, token);
  const health = (): HealthReport => healthOf(targets.values(), loops.services, closing !== undefined, sources.views(), shared && { reachable: shared.reachable() });
  registerApiRoutes(app, { targets, registry, metrics, ready, health, submit, lookup, cancel, clusterStats: clusterNode && (() => clusterNode.stats()) });
  registerSourceRoutes(app, { sources, accepting: () => closing === undefined });
  await registerStaticRoutes(app);
  await app.ready();

  const io: RelayServer = new Server(app.server, {
    // Middlewares (the token check) run on recovered connections too: a saved session id is no credential.
    connectionStateRecovery: { maxDisconnectionDuration: 2 * 60_000, skipMiddlewares: false },
    adapter: shared ? shared.adapter : boundedRecoveryAdapter(opts.recoveryBytes),
    maxHttpBufferSize: opts.bodyLimit,
  });
  clusterNode?.attach(io, opts.maxValueBytes);
  limitSendBuffers(io, {
    maxBytes: opts.clientBufferBytes,
    onExceeded: ({ address, bytes, maxBytes }) => {
      opts.log(`disconnected a Socket.IO client at ${address}: ${bytes} bytes waiting to be sent to it (limit ${maxBytes}); it is not reading`);
    },
  });
  if (token !== undefined) {
    io.use((socket, next) => {
      next(socketTokenError((socket.handshake.auth as { token?: unknown } | undefined)?.token, token));
    });
  }
  const room = config.relay.to;
  if (room !== 'all') {
    io.on('connection', (socket) => {
      if (!socket.recovered) void socket.join(room);
    });
  }
  const limiter = opts.rateLimit ? new WindowLimiter(opts.rateLimit.max, opts.rateLimit.timeWindow) : undefined;
  const byName = (kind: 'loop' | 'pool'): Record<string, RelayTarget> =>
    Object.fromEntries([...targets.values()].filter((t) => t.kind === kind).map((t) => [t.name, t.target]));
  const relay = attachRelay(io, {
    loops: byName('loop'),
    pools: byName('pool'),
    events: config.relay.events,
    to: room,
    expose: Object.fromEntries([...targets.values()].map((t) => [t.name, [...t.expose]])),
    statsInterval: opts.statsInterval,
    maxValueBytes: opts.maxValueBytes,
    submit: (request, socket) => {
      if (limiter && !limiter.hit(socket.handshake.address)) throw new RequestError('RATE_LIMITED', 'Too many task submissions');
      return submit(request);
    },
    doneEvent: (task) => registry.doneEvent(task.id),
    cancel: (id, socket) => {
      if (limiter && !limiter.hit(socket.handshake.address)) throw new RequestError('RATE_LIMITED', 'Too many task cancellations');
      return cancel(id);
    },
  });

  try {
    // In a cluster, clients come once the adapter reads every broadcast of the other nodes from here on.
    await shared?.started;
    await app.listen({ port: opts.port, host: opts.host });
  } catch (error) {
    relay.close();
    await io.close();
    await shared?.close();
    await clusterNode?.close(0);
    await stopProducer?.();
    await sources.stop(2000);
    await loops.close({ timeout: 2000 });
    await sources.close();
    const code = (error as { code?: string }).code;
    if (code === 'EADDRINUSE') throw new ServerStartError(`Port ${opts.port} on ${opts.host} is already in use`, { cause: error });
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new ServerStartError(`Cannot listen on ${opts.host}: ${code}`, { cause: error });
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;

  const close = (): Promise<void> => (closing ??= (async () => {
    relay.close();
    // Let the tasks clients submitted finish first, then close loops (which also waits for other work).
    const started = Date.now();
    const left = (): number => Math.max(0, opts.shutdownTimeout - (Date.now() - started));
    await stopProducer?.();
    await registry.idle(opts.shutdownTimeout);
    // The cluster's jobs running here finish (or go back to the queue for another node) while the loops still run.
    await clusterNode?.close(left());
    // Consumers stop first (their handlers may call their loops), then the loops close, then the emulator goes.
    await sources.stop(left());
    await loops.close({ timeout: left() });
    await sources.close();
    // Let the last task:done packets leave before the sockets go.
    await new Promise((resolve) => setTimeout(resolve, 50));
    io.disconnectSockets(true);
    io.engine.close();
    await app.close();
    await io.close();
    await shared?.close();
    metrics.close();
  })());

  return { url: urlOf(opts.host, port), port, host: opts.host, config, app, io, loops, sources, relay, cluster: clusterNode, close };
}

/** One line on the log for every configured service that stops for good (sources log their own, by source name). */
function logServiceFailures(loops: LoopSet, log: (line: string) => void): void {
  for (const { name, kind, target } of loops.targets.values()) {
    if (kind !== 'loop') continue;
    (target as unknown as core.Loop).on('service:failed', ({ fn, restarts, error }) => {
      if (fn === SOURCE_SERVICE) return;
      const e = error as { code?: string; message?: string } | undefined;
      const after = restarts > 0 ? ` after ${restarts} restart${restarts === 1 ? '' : 's'}` : '';
      log(`service "${fn}" of loop "${name}" stopped for good${after}: ${e?.code ? `${e.code}: ` : ''}${String(e?.message ?? error).split('\n')[0]}`);
    });
  }
}

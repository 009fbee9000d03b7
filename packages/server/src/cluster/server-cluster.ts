/**
 * The server as a node of a cluster (docs/cluster.md, "In the server"): it starts `sideloop/cluster` with the loops
 * and pools it serves, stores durable submissions there, finds any node's durable task by id, cancels it wherever it
 * runs, and sends the events of the tasks THIS node runs (and only those) into the Socket.IO adapter, so that each
 * reaches the submitter once, whichever node it is connected to.
 */
import { startCluster, type Cluster, type ClusterStats, type DurableTask, type FoundTask, type ServeTarget } from 'sideloop/cluster';
import { boundedValue, errorInfo, jsonSafe, quoted, RequestError, type RelayTask } from 'sideloop/remote';
import { taskRoom, type RelayServer, type TaskDoneEvent } from 'sideloop/socket.io';
import type { RunningTarget } from '../loop-set.ts';
import { ServerStartError } from '../server-start-error.ts';
import type { TaskView } from '../task-registry.ts';
import { redacted, type ResolvedClusterConfig } from './cluster-config.ts';

/** Durable task ids are the cluster's random UUIDs (122 random bits): anything else is no durable task. */
const DURABLE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A durable task as the relay and the registry see it: stored before it is acked, reported by the node that runs it. */
export type DurableRelayTask = RelayTask & { stored(): Promise<void>; readonly reportedByRunner: true };

/** Events held at most before the Socket.IO server is attached (a start takes a fraction of a second). */
const HELD_MAX = 10_000;

export class ServerCluster {
  readonly cluster: Cluster;
  readonly config: ResolvedClusterConfig;
  #io: RelayServer | undefined;
  #maxValueBytes = Infinity;
  /** The events of tasks this node ran before the Socket.IO server was attached: sent once it is. */
  #held: Array<(io: RelayServer) => void> = [];

  private constructor(cluster: Cluster, config: ResolvedClusterConfig) {
    this.cluster = cluster;
    this.config = config;
    cluster.on('task:progress', ({ id, value }) => {
      this.#relay((io) => io.to(taskRoom(id)).emit('task:progress', { id, progress: jsonSafe(value) }));
    });
    cluster.on('task:done', ({ id, state, value, error }) => this.#relay((io) => {
      let event: TaskDoneEvent;
      if (state === 'fulfilled') {
        const kept = boundedValue(value, this.#maxValueBytes);
        event = kept.valueOmitted ? { id, state, valueOmitted: kept.valueOmitted } : { id, state, value: kept.value };
      } else {
        event = { id, state, error: errorInfo(error) };
      }
      const room = taskRoom(id);
      io.to(room).emit('task:done', event);
      // After the event, through the same stream: every node lets its sockets leave the room once they got it.
      io.in(room).socketsLeave(room);
    }));
  }

  /** Sends an event now, or once the Socket.IO server is attached (a job can end while the server still starts). */
  #relay(send: (io: RelayServer) => void): void {
    if (this.#io) send(this.#io);
    else if (this.#held.length < HELD_MAX) this.#held.push(send);
  }

  /**
   * Connects to Redis and starts serving `config.serve` (default: `servable`, every loop and pool of the config but
   * the loops that only run a source). Throws `ServerStartError` with the reason on one line when Redis cannot be
   * reached within `connectTimeout`.
   */
  static async start(config: ResolvedClusterConfig, targets: ReadonlyMap<string, RunningTarget>, servable: readonly string[]): Promise<ServerCluster> {
    const names = config.serve ?? servable;
    const serve = Object.fromEntries(names.map((name) => [name, targets.get(name)!.target as unknown as ServeTarget]));
    let cluster: Cluster;
    try {
      cluster = await startCluster({
        redis: config.redis, prefix: config.prefix, serve, ...config.timings, ...(config.node === undefined ? {} : { node: config.node }),
      });
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message;
      const message = (error as Error).message.split('\n')[0];
      throw new ServerStartError(`Cluster at ${redacted(config.redis)}: ${message}${cause && !message?.includes(cause) ? `: ${cause.split('\n')[0]}` : ''}`, { cause: error });
    }
    return new ServerCluster(cluster, config);
  }

  /** Where this node sends the events of the tasks it runs (the Socket.IO server on the cluster's adapter). */
  attach(io: RelayServer, maxValueBytes: number): void {
    this.#io = io;
    this.#maxValueBytes = maxValueBytes;
    const held = this.#held;
    this.#held = [];
    for (const send of held) send(io);
  }

  /** Stores `fn(...args)` for `loop` in the cluster; the task's id is known at once, `stored()` says when Redis has it. */
  submit(loop: string, fn: string, args: unknown[]): { task: DurableRelayTask; cancel(reason: unknown): Promise<boolean> } {
    let durable: DurableTask<unknown>;
    try {
      durable = this.cluster.submit(loop, fn, args);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'SIDELOOP_CLUSTER_CLOSED') throw new RequestError('NOT_READY', 'The server is shutting down', { cause: error });
      if (error instanceof TypeError || error instanceof RangeError) throw new RequestError('BAD_REQUEST', error.message, { cause: error });
      throw error;
    }
    const task = relayTaskOf(durable);
    return { task, cancel: (reason) => durable.cancel(reason) };
  }

  /** The durable task `id` from any node, or undefined when the cluster has none by that id. */
  async find(id: string): Promise<FoundTask<unknown> | undefined> {
    if (!DURABLE_ID.test(id)) return undefined;
    return this.cluster.job(id);
  }

  /** The view `GET /api/tasks/:id` answers for a durable task another node holds (or none holds). */
  async view(id: string): Promise<TaskView | undefined> {
    const found = await this.find(id);
    if (!found) return undefined;
    const view: TaskView = { id, loop: found.loop, fn: found.fn, state: found.state, progress: jsonSafe(found.progress) ?? null };
    if (!found.done()) return view;
    try {
      const kept = boundedValue(await found.result(), this.#maxValueBytes);
      if (kept.valueOmitted) view.valueOmitted = kept.valueOmitted;
      else view.value = kept.value;
    } catch (error) {
      view.error = errorInfo(error);
    }
    return view;
  }

  /** Cancels the durable task `id` wherever it runs; `RequestError` 404 for no such task, 409 once it fulfilled or rejected. */
  async cancel(id: string, reason: unknown): Promise<void> {
    const found = await this.find(id);
    if (!found) throw new RequestError('UNKNOWN_TASK', `No task has the id ${quoted(id)}`);
    if (!(await found.cancel(reason))) throw new RequestError('TASK_SETTLED', `Task ${quoted(id)} has already settled (${found.state})`);
  }

  /** `GET /api/cluster`: the nodes with their heartbeats and what they serve, and each loop's queue counts. */
  async stats(): Promise<Pick<ClusterStats, 'nodes' | 'queues'> & { node: string }> {
    const { node, nodes, queues } = await this.cluster.stats();
    return { node, nodes, queues };
  }

  /** Stops taking jobs, lets running ones finish (after `timeout` ms they go back to the queue), leaves the cluster. */
  close(timeout: number): Promise<void> {
    this.#io = undefined;
    return this.cluster.close({ timeout });
  }
}

function relayTaskOf(durable: DurableTask<unknown>): DurableRelayTask {
  const task: DurableRelayTask = {
    id: durable.id,
    reportedByRunner: true,
    get state() {
      return durable.state;
    },
    // What the registry's synchronous cancel (a waiting HTTP client that went away) can do: ask, without waiting.
    cancel: (reason) => {
      if (durable.done()) return durable.state === 'cancelled';
      durable.cancel(reason).catch(() => {});
      return true;
    },
    onDone: (callback) => durable.onDone(() => callback(task)),
    on: (_event, listener) => durable.on('progress', listener),
    then: (onFulfilled, onRejected) => durable.then(onFulfilled, onRejected),
    stored: () => durable.stored(),
  };
  return task;
}

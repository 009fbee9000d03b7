/**
 * The Socket.IO relay: given an `io` server and loops/pools, it sends chosen loop events to every client or a room,
 * runs `task:submit` / `task:cancel` for clients, tells the submitter `task:progress` and `task:done` (room
 * `task:<id>`), and broadcasts `loop:stats` snapshots.
 */
import type { Server, Socket } from 'socket.io';
import { CancelledError } from '../errors.ts';
import { checkInteger, checkObject, invalid } from '../options.ts';
import { mainDelay } from '../thread/health.ts';
import { EmitBatch } from './emit-batch.ts';
import {
  relayEventNames, taskRoom,
  type ClientToServerEvents, type LoopInfo, type ServerToClientEvents, type StatsSnapshot, type TaskCancelReply,
  type TaskDoneEvent, type TaskSubmitReply,
} from './events.ts';
import { boundedValue, jsonSafe, MAX_VALUE_BYTES } from '../remote/json-value.ts';
import { withPublicId } from '../remote/public-id.ts';
import { errorInfo, quoted, RequestError } from '../remote/request-error.ts';
import { parseTaskRequest, submitTask, type ExposedTarget, type TaskRequest } from '../remote/submit.ts';
import { loopInfo, type RelayTarget, type RelayTask, type TaskListener } from '../remote/target.ts';

export type RelayServer = Server<ClientToServerEvents, ServerToClientEvents>;
export type RelaySocket = Socket<ClientToServerEvents, ServerToClientEvents>;

export interface RelayOptions {
  /** Loops by name. */
  loops?: Record<string, RelayTarget>;
  /** Pools by name (names are shared with loops). */
  pools?: Record<string, RelayTarget>;
  /** Loop events sent on to clients, by their own name and payload. @default [] */
  events?: readonly string[];
  /** `'all'` clients, or the name of a room the application puts sockets in. @default 'all' */
  to?: string;
  /** Functions clients may run with `task:submit`, per loop or pool name. @default {} (none) */
  expose?: Record<string, readonly string[]>;
  /** Milliseconds between `loop:stats` snapshots; 0 turns them off. @default 1000 */
  statsInterval?: number;
  /** Largest value `task:done` carries, in bytes of JSON; a larger one is sent as `valueOmitted: { bytes }`. @default 65536 */
  maxValueBytes?: number;
  /**
   * Replaces the default submission (the server routes it through its task registry); the task's id is public. A task
   * with `stored()` is acked once that resolves (the submitter is in the task's room before), or answered its error.
   */
  submit?: (request: TaskRequest, socket: RelaySocket) => RelayTask;
  /** Replaces the default cancellation; throws (or rejects with) `RequestError` for an unknown task or one that fulfilled or rejected. */
  cancel?: (id: string, socket: RelaySocket) => void | Promise<void>;
  /** Replaces how a settled task becomes its `task:done` payload (the server reuses what its registry kept). */
  doneEvent?: (task: RelayTask) => Promise<TaskDoneEvent>;
}

export interface Relay {
  /** The snapshot `loop:stats` sends. */
  snapshot(): StatsSnapshot;
  /** Sends `task:progress` and `task:done` of a task to room `task:<id>` (done for every relayed submission). */
  track(task: RelayTask): void;
  /** Stops relaying: removes every listener and timer; the io server stays open. */
  close(): void;
}

/** Reads a settled task into a `task:done` payload; a value over `maxValueBytes` is left out (`valueOmitted`). */
export async function settledEvent(task: RelayTask, maxValueBytes = Infinity): Promise<TaskDoneEvent> {
  try {
    const value = await task;
    const { value: kept, valueOmitted } = boundedValue(value, maxValueBytes);
    return valueOmitted ? { id: task.id, state: 'fulfilled', valueOmitted } : { id: task.id, state: 'fulfilled', value: kept };
  } catch (error) {
    const state = task.state === 'cancelled' ? 'cancelled' : 'rejected';
    return { id: task.id, state, error: errorInfo(error) };
  }
}

/** Wires `io` to loops and pools; see `RelayOptions`. */
export function attachRelay(io: RelayServer, input: RelayOptions = {}): Relay {
  const options = checkObject('options', input) as RelayOptions;
  const { events = [], to = 'all', statsInterval = 1000, maxValueBytes = MAX_VALUE_BYTES } = options;
  const loops = checkObject('loops', options.loops) as Record<string, RelayTarget>;
  const pools = checkObject('pools', options.pools) as Record<string, RelayTarget>;
  const expose = checkObject('expose', options.expose);
  const reserved = relayEventNames as readonly string[];
  if (!Array.isArray(events)) throw invalid('events', 'an array of event names', events);
  events.forEach((event: unknown, i) => {
    if (typeof event !== 'string' || event === '') throw invalid(`events[${i}]`, 'an event name', event);
    if (reserved.includes(event)) throw invalid(`events[${i}]`, 'an event name the relay does not send itself', event);
  });
  if (typeof to !== 'string' || to === '') throw invalid('to', "'all' or a room name", to);
  checkInteger('statsInterval', statsInterval, 0);
  checkInteger('maxValueBytes', maxValueBytes, 0);
  for (const key of ['submit', 'cancel', 'doneEvent'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') throw invalid(key, 'a function', options[key]);
  }
  const targets = new Map<string, ExposedTarget & { kind: 'loop' | 'pool' }>();
  for (const [kind, group] of [['loop', loops], ['pool', pools]] as const) {
    for (const [name, target] of Object.entries(group)) {
      if (targets.has(name)) throw invalid(`pools.${name}`, 'a name no loop has', name);
      const names = expose[name] ?? [];
      if (!Array.isArray(names) || !names.every((fn) => typeof fn === 'string')) throw invalid(`expose.${name}`, 'an array of function names', names);
      targets.set(name, { target, kind, expose: new Set(names) });
    }
  }

  const tasks = new Map<string, RelayTask>();
  const unsubscribe: Array<() => void> = [];
  const batch = new EmitBatch();
  const broadcast = to === 'all' ? io : io.to(to);
  for (const { target } of targets.values()) {
    for (const event of events) {
      const listener: TaskListener = (payload) => {
        batch.push(() => broadcast.emit(event, payload));
      };
      target.on(event, listener);
      unsubscribe.push(() => target.off(event, listener));
    }
  }

  const snapshot = (): StatsSnapshot => {
    const list: LoopInfo[] = [];
    for (const [name, { target, kind, expose: names }] of targets) {
      list.push(loopInfo(name, kind, target, names));
    }
    return { at: Date.now(), main: { eventLoopDelay: mainDelay() }, loops: list };
  };
  const timer = statsInterval > 0
    ? setInterval(() => {
      // Local: each server of a cluster (Socket.IO adapter) describes its own loops to its own clients.
    if (io.engine.clientsCount > 0) io.local.volatile.emit('loop:stats', snapshot());
    }, statsInterval)
    : undefined;
  timer?.unref();

  const track = (task: RelayTask): void => {
    const room = taskRoom(task.id);
    task.on('progress', (progress) => {
      const event = { id: task.id, progress: jsonSafe(progress) };
      batch.push(() => io.to(room).emit('task:progress', event));
    });
    task.onDone(() => {
      tasks.delete(task.id);
      void doneEvent(task).then((event) => {
        batch.push(() => {
          io.to(room).emit('task:done', event);
          io.in(room).socketsLeave(room);
        });
      });
    });
  };

  const submit = options.submit ?? ((request: TaskRequest) => withPublicId(submitTask(targets, request)));
  const doneEvent = options.doneEvent ?? ((task: RelayTask) => settledEvent(task, maxValueBytes));
  const cancel: (id: string, socket: RelaySocket) => void | Promise<void> = options.cancel ?? ((id: string) => {
    const task = tasks.get(id);
    if (!task) throw new RequestError('UNKNOWN_TASK', `No running task has the id ${quoted(id)}`);
    if (!task.cancel(new CancelledError(undefined, 'Cancelled by the client'))) {
      throw new RequestError('TASK_SETTLED', `Task ${quoted(id)} has already settled (${task.state})`);
    }
  });

  const accepted = (task: RelayTask, reply: (value: TaskSubmitReply) => void): void => {
    tasks.set(task.id, task);
    if (task.reportedByRunner) task.onDone(() => tasks.delete(task.id));
    else track(task);
    reply({ id: task.id });
  };

  const onConnection = (socket: RelaySocket): void => {
    socket.on('task:submit', (request, ack) => {
      const reply = (value: TaskSubmitReply): void => {
        if (typeof ack === 'function') ack(value);
      };
      let task: RelayTask;
      try {
        task = submit(parseTaskRequest(request), socket);
      } catch (error) {
        reply({ error: errorInfo(error) });
        return;
      }
      // In the room before the task can run anywhere, so no event of it is missed.
      void socket.join(taskRoom(task.id));
      if (!task.stored) {
        accepted(task, reply);
        return;
      }
      task.stored().then(() => accepted(task, reply), (error: unknown) => {
        void socket.leave(taskRoom(task.id));
        reply({ error: errorInfo(error) });
      });
    });
    socket.on('task:cancel', (request, ack) => {
      const reply = (value: TaskCancelReply): void => {
        if (typeof ack === 'function') ack(value);
      };
      const id = (request as { id?: unknown } | null)?.id;
      const failed = (error: unknown): void => reply({ error: errorInfo(error) });
      try {
        if (typeof id !== 'string') throw new RequestError('BAD_REQUEST', `Expected \`id\` to be a task id, got \`${String(id)}\``);
        const done = cancel(id, socket);
        if (done) done.then(() => reply({ id, state: 'cancelled' }), failed);
        else reply({ id, state: 'cancelled' });
      } catch (error) {
        failed(error);
      }
    });
  };
  io.on('connection', onConnection);

  return {
    snapshot,
    track,
    close(): void {
      batch.flush();
      io.off('connection', onConnection);
      for (const off of unsubscribe.splice(0)) off();
      if (timer) clearInterval(timer);
    },
  };
}

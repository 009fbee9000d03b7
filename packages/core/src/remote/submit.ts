/**
 * Checks a client's task request and submits it: the one path by which HTTP and Socket.IO callers reach a loop.
 * Nothing a client sends names a module; only functions listed in `expose` can run.
 */
import { quoted, RequestError } from './request-error.ts';
import type { RelayTarget, RelayTask } from './target.ts';

export interface ExposedTarget {
  target: RelayTarget;
  expose: ReadonlySet<string>;
}

export interface TaskRequest {
  loop: string;
  fn: string;
  args: unknown[];
  /** The client asks for a durable task (`"durable": true`): a server in a cluster stores it in Redis. */
  durable?: boolean;
}

const FN = /^[A-Za-z_$][\w$]*$/;
const MAX_ARGS = 32;

/** Validates `{ fn, args }` (and `loop` unless given); throws `RequestError('BAD_REQUEST')`. */
export function parseTaskRequest(body: unknown, loop?: string): TaskRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new RequestError('BAD_REQUEST', `Expected the request to be an object like { fn, args }, got \`${body === null ? 'null' : Array.isArray(body) ? 'an array' : typeof body}\``);
  }
  const request = body as Record<string, unknown>;
  const name = loop ?? request.loop;
  if (typeof name !== 'string' || name === '') throw new RequestError('BAD_REQUEST', `Expected \`loop\` to be a loop name, got \`${String(name)}\``);
  if (typeof request.fn !== 'string' || !FN.test(request.fn)) {
    throw new RequestError('BAD_REQUEST', `Expected \`fn\` to be a function name, got \`${String(request.fn)}\``);
  }
  const args = request.args ?? [];
  if (!Array.isArray(args)) throw new RequestError('BAD_REQUEST', `Expected \`args\` to be an array, got \`${typeof args}\``);
  if (args.length > MAX_ARGS) throw new RequestError('BAD_REQUEST', `Expected \`args\` to hold at most ${MAX_ARGS} values, got ${args.length}`);
  const { durable } = request;
  if (durable !== undefined && typeof durable !== 'boolean') throw new RequestError('BAD_REQUEST', `Expected \`durable\` to be a boolean, got a value of type \`${typeof durable}\``);
  return durable ? { loop: name, fn: request.fn, args, durable } : { loop: name, fn: request.fn, args };
}

/** Maps what `submit` throws synchronously to a request error. */
export function submitError(error: unknown, request: TaskRequest): RequestError {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'SIDELOOP_UNKNOWN_FUNCTION':
      return new RequestError('UNKNOWN_FUNCTION', `Loop "${request.loop}" has no function \`${request.fn}\``, { cause: error });
    case 'SIDELOOP_LOOP_CLOSED':
    case 'SIDELOOP_LOOP_CRASHED':
      return new RequestError('NOT_READY', `Loop "${request.loop}" is not running: ${message}`, { cause: error });
    case 'SIDELOOP_QUEUE_FULL':
      return new RequestError('QUEUE_FULL', message, { cause: error });
    case 'SIDELOOP_CLONE':
      return new RequestError('BAD_REQUEST', message, { cause: error });
    default:
      if (error instanceof TypeError || error instanceof RangeError) return new RequestError('BAD_REQUEST', message, { cause: error });
      return new RequestError('INTERNAL', message, { cause: error });
  }
}

/** Finds the target and checks that the function is exposed; throws `RequestError` (404, 403). */
export function exposedTarget<T extends ExposedTarget>(targets: ReadonlyMap<string, T>, request: TaskRequest): T {
  const entry = targets.get(request.loop);
  if (!entry) throw new RequestError('UNKNOWN_LOOP', `No loop or pool is named ${quoted(request.loop)}`);
  if (!entry.expose.has(request.fn)) {
    const known = exportsOf(entry.target);
    if (known && !known.includes(request.fn)) {
      throw new RequestError('UNKNOWN_FUNCTION', `Loop "${request.loop}" has no function \`${request.fn}\``);
    }
    throw new RequestError('FUNCTION_NOT_EXPOSED', `Function \`${request.fn}\` of loop "${request.loop}" is not exposed`);
  }
  return entry;
}

/** Finds the target, checks exposure and submits; throws `RequestError` (404, 403, 400, 503). */
export function submitTask(targets: ReadonlyMap<string, ExposedTarget>, request: TaskRequest): RelayTask {
  const entry = exposedTarget(targets, request);
  if (entry.target.state !== 'ready') {
    throw new RequestError('NOT_READY', `Loop "${request.loop}" is ${entry.target.state}`);
  }
  let task: RelayTask;
  try {
    task = entry.target.submit(request.fn, ...request.args);
  } catch (error) {
    throw submitError(error, request);
  }
  // A pool with a full queue rejects at once (QUEUE_FULL): answer that now rather than accept a dead task.
  if (task.state === 'rejected' && task.exception) {
    task.then(undefined, () => {});
    throw submitError(task.exception(), request);
  }
  return task;
}

/** The loop module's export names when the loop tells them. */
export function exportsOf(target: RelayTarget): readonly string[] | undefined {
  return target.functions;
}

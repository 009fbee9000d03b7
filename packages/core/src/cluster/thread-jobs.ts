/**
 * The durable-task worker inside a loop's or a pool's thread (an attachment, thread/attach.ts): a BullMQ Worker of
 * its own takes the loop's jobs and runs each where it lands, with no hop to another thread. What the node's main
 * thread knows, it sends here (thread-link.ts): the cancel marks and cancels, whether anyone listens to task events,
 * when to start taking jobs and when to stop. What happens here goes back: progress and ends (only while listened to), cleared marks, closed.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Redis, RedisOptions } from 'ioredis';
import { toCloneError } from '../clone.ts';
import { encodeThrown } from '../error-codec.ts';
import { timeoutError } from '../call/record.ts';
import type { AttachedThread, ThreadHost } from '../worker/attachments.ts';
import type { TaskContext } from '../worker/context.ts';
import { abortRunning, signalOf } from '../worker/call-context.ts';
import type { Running } from '../worker/running.ts';
import { HeldLocks } from './held-locks.ts';
import { JobRunner, toCancelled, type JobHost, type RunnerSettings } from './job-runner.ts';
import { readMark } from './cancel-marks.ts';
import { bullConnection, commandConnection } from './redis-connection.ts';

export interface ThreadJobsData {
  settings: RunnerSettings;
  redis: string | RedisOptions;
  /** The hash of the loop's cancel marks, read while the main thread's are not current. */
  marksKey: string;
}

/** From the node's main thread. */
export type ToThreadJobs =
  | { type: 'cancel'; id: string; reason: string }
  | { type: 'unmark'; id: string }
  | { type: 'live'; live: boolean }
  | { type: 'listen'; progress: boolean; done: boolean }
  /** Start taking jobs (the node has started, its listeners are set). */
  | { type: 'run' }
  /** This thread's share of the loop's concurrency (0: take no jobs for now). */
  | { type: 'concurrency'; n: number }
  /** Where to list the running jobs' locks (held-locks.ts). */
  | { type: 'locks'; buffer: SharedArrayBuffer }
  /** A `done` was handed on. */
  | { type: 'ack'; seq: number }
  | { type: 'close'; timeout: number };

/** To the node's main thread. */
export type FromThreadJobs =
  | { type: 'ready' }
  | { type: 'progress'; id: string; fn: string; value: unknown }
  | { type: 'done'; seq: number; id: string; fn: string; state: 'fulfilled'; value: unknown }
  | { type: 'done'; seq: number; id: string; fn: string; state: 'rejected' | 'cancelled'; error: ReturnType<typeof encodeThrown> }
  | { type: 'cleared'; id: string }
  | { type: 'closed' }
  | { type: 'attach-failed'; error: ReturnType<typeof encodeThrown> };

export function attachThread(thread: ThreadHost, data: ThreadJobsData, port: MessagePort): AttachedThread {
  const post = (message: FromThreadJobs): void => port.postMessage(message);
  const known = new Map<string, string>();
  let live = false;
  let listen = { progress: false, done: false };
  /** The ends posted and not yet handed on by the main thread. */
  const acks = new Map<number, () => void>();
  let nextSeq = 0;
  const ackAll = (): void => {
    for (const resolve of acks.values()) resolve();
    acks.clear();
  };
  const host: JobHost = {
    events: {
      progress: (id, fn, value) => {
        if (listen.progress) post({ type: 'progress', id, fn, value });
      },
      done: (id, fn, outcome) => {
        if (!listen.done) return undefined;
        const seq = nextSeq++;
        if (outcome.state === 'fulfilled') post({ type: 'done', seq, id, fn, state: 'fulfilled', value: outcome.value });
        else post({ type: 'done', seq, id, fn, state: outcome.state, error: encodeThrown(outcome.error) });
        return new Promise<void>((resolve) => acks.set(seq, resolve));
      },
    },
    mark: (id) => (live ? known.get(id) : readOwnMark(id)),
    cleared: (id) => {
      known.delete(id);
      post({ type: 'cleared', id });
    },
    held: (id, token) => locks?.hold(id, token) ?? (() => {}),
    // A trace context stored by an earlier version (an object of headers) is not followed here.
    start: (job, args, progress) => startCall(thread, job.id!, job.name, args, job.data.t, typeof job.data.m === 'string' ? job.data.m : undefined, progress),
  };
  const runner = new JobRunner(data.settings, bullConnection(data.redis), host);
  /** For reading marks while the main thread's are not current; opened on first use. */
  let commands: Redis | undefined;
  const readOwnMark = (id: string): Promise<string | undefined> =>
    readMark((commands ??= commandConnection(data.redis, `${data.settings.node}:marks`)), data.marksKey, id);
  let closing: Promise<void> | undefined;
  let locks: HeldLocks | undefined;
  /** What the worker holds besides its own connections, let go once it closed. */
  const release = (): void => {
    locks?.stop();
    commands?.disconnect();
  };
  /** Jobs may be taken (the node said run), with this many at once. */
  let runs = false;
  let share = data.settings.concurrency;
  const apply = (): void => {
    const { worker } = runner;
    if (!runs || closing) return;
    if (share > 0) {
      worker.concurrency = share;
      if (!worker.isRunning()) runner.start();
      else if (worker.isPaused()) void worker.resume();
    } else if (worker.isRunning() && !worker.isPaused()) {
      void worker.pause(true); // the jobs it runs finish; it takes no more
    }
  };
  port.on('message', (message: ToThreadJobs) => {
    switch (message.type) {
      case 'cancel':
        known.set(message.id, message.reason);
        runner.cancel(message.id, message.reason);
        return;
      case 'unmark':
        known.delete(message.id);
        return;
      case 'live':
        live = message.live;
        return;
      case 'listen':
        listen = { progress: message.progress, done: message.done };
        return;
      case 'ack':
        acks.get(message.seq)?.();
        acks.delete(message.seq);
        return;
      case 'locks':
        locks = new HeldLocks(message.buffer, data.settings.lockDuration);
        return;
      case 'run':
        runs = true;
        apply();
        return;
      case 'concurrency':
        share = message.n;
        apply();
        return;
      case 'close':
        closing ??= runner.close(message.timeout);
        void closing.then(() => {
          release();
          post({ type: 'closed' });
        });
        return;
    }
  });
  port.on('close', ackAll); // the main thread's end is gone: the jobs end without it
  port.unref();
  void runner.connect().then(() => post({ type: 'ready' }), () => {});
  return {
    async close(graceful) {
      closing ??= runner.worker.close();
      if (!graceful) {
        ackAll();
        await runner.handBack();
      }
      await closing;
      release();
      port.close();
    },
  };
}

/**
 * Runs one job's call here: its own signal (made when the function asks for it, as for a local call), its timeout
 * from its start, its cancel ending it at once.
 */
function startCall(thread: ThreadHost, id: string, fn: string, args: unknown[], timeout: number | undefined, meta: string | undefined,
  progress: (value: unknown) => void) {
  const call: Pick<Running, 'controller'> = { controller: undefined };
  let ended = false;
  let stop!: (error: unknown) => void;
  const end = (error: unknown): void => {
    if (ended) return;
    ended = true;
    abortRunning(call, error);
    stop(error);
  };
  const context: TaskContext = {
    id,
    get signal() {
      return signalOf(call);
    },
    cancelled: () => ended,
    throwIfCancelled: () => {
      if (ended) throw signalOf(call).reason;
    },
    emit: (event, payload) => thread.emit(event, payload, id),
    progress: (value) => {
      try {
        progress(value);
      } catch (error) {
        throw toCloneError(error, [value], 'progress', true);
      }
    },
    ready: () => {
      throw new TypeError('ready() is for services started with loop.spawn(); this is a plain task');
    },
  };
  const done = new Promise<unknown>((resolve, reject) => {
    stop = reject;
    thread.run(fn, args, context, meta).then(resolve, reject);
  });
  if (timeout !== undefined) {
    const timer = setTimeout(() => end(timeoutError({ id }, fn, timeout)), timeout);
    const clear = (): void => clearTimeout(timer);
    done.then(clear, clear);
  }
  return { done, cancel: (reason: unknown) => end(toCancelled(reason)) };
}

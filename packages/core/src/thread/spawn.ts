/**
 * One thread's start, for a loop and a pool's thread alike: the worker on sideloop's entry with the cleaned flags,
 * its control block and bell, the ready handshake (ready, init failed, exited, or `readyTimeout` passed), the error
 * a crash becomes, and the forced close.
 */
import type { EventLoopUtilization } from 'node:perf_hooks';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { LoopCrashedError, LoopInitError, TimeoutError } from '../errors.ts';
import { decodeThrown } from '../error-codec.ts';
import { extensions } from '../extensions.ts';
import type { ResolvedLoopOptions } from '../options.ts';
import { BELL_SLOTS, CONTROL_BYTES, CTRL_EXIT_CODE, CTRL_STATE, STATE_DEAD, controlViews, type FromLoop, type LoopBootData, type ToLoop } from './protocol.ts';

/**
 * Whether a worker's event-loop utilization can be read here. Node reads it; Deno's Worker has no `performance`
 * (https://github.com/denoland/deno/issues/35150) and Bun's warns that it is not implemented and reads zeros
 * (https://github.com/oven-sh/bun/issues/32609): there a pool thread's `utilization` stays 0 and a blocked caller
 * learns of a thread's death from the control block alone.
 */
const READS_UTILIZATION = process.versions.bun === undefined && process.versions.deno === undefined;

const ENTRY = new URL(`../worker/entry${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/**
 * How long a forced close (its timeout passed) leaves the thread to cancel what runs and run `dispose()` before it is
 * terminated, in ms. A blocked thread, or a `dispose()` that hangs, costs this much more.
 */
export const DISPOSE_GRACE_MS = 1000;

/** What `init` told the caller once it returned. */
export interface ReadyInfo {
  initValue: unknown;
  exports: string[];
  generators: string[];
  /** The module exports `health()`. */
  health: boolean;
}

/**
 * The flags a thread starts with: the user's, or else the process's own, inherited as they are unless they hold
 * `--input-type`, which is for the main script only and which a worker thread refuses ("--input-type can only be used
 * with string input"): a script run with `node --input-type=module -e` could not start threads.
 */
export function execArgvOption(execArgv: string[] | undefined): { execArgv?: string[] } {
  if (execArgv) return { execArgv };
  const argv = process.execArgv;
  if (!argv.some((arg) => arg.startsWith('--input-type'))) return {};
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--input-type') i++;
    else if (!argv[i]!.startsWith('--input-type=')) kept.push(argv[i]!);
  }
  return { execArgv: kept };
}

export function newBell(): SharedArrayBuffer {
  return new SharedArrayBuffer(BELL_SLOTS * 4);
}

/** The error a thread's unexpected end becomes for every caller it leaves waiting. */
export function crashError(label: string, code: number, cause: unknown): LoopCrashedError {
  return new LoopCrashedError(`${label} crashed${cause instanceof Error ? `: ${cause.message}` : ` (exit code ${code})`}`, { exitCode: code, cause });
}

/**
 * A started worker thread and the caller's end of its first connection. `label` names it in errors (`Loop "db"`,
 * `A thread of pool "cpu"`).
 */
export class SpawnedThread {
  readonly label: string;
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly control = new SharedArrayBuffer(CONTROL_BYTES);
  readonly ctrl: Int32Array;
  readonly delay: Float64Array;
  readonly bell: Int32Array;
  /** Resolves with the exit code once the thread has ended. */
  readonly exited: Promise<number>;
  /** The first error the thread threw out of its event loop, if any. */
  threadError: unknown;
  /** The thread said it is ready (its event loop runs), and this thread has seen it online (see probeDead). */
  #ready = false;
  #online = false;

  constructor(label: string, threadName: string, name: string, moduleUrl: string, options: ResolvedLoopOptions) {
    this.label = label;
    ({ ctrl: this.ctrl, delay: this.delay } = controlViews(this.control));
    const { port1, port2 } = new MessageChannel();
    const bell = newBell();
    this.bell = new Int32Array(bell);
    const boot: LoopBootData = {
      name, moduleUrl, initArgs: options.initArgs, control: this.control, port: port2, bell, unhandledRejections: options.unhandledRejections,
    };
    if (extensions.threadModules.length > 0) boot.threadModules = [...extensions.threadModules];
    this.worker = new Worker(ENTRY, {
      workerData: boot,
      transferList: [port2],
      ...(options.env ? { env: options.env } : {}),
      ...execArgvOption(options.execArgv),
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
      name: threadName,
    });
    this.port = port1;
    this.worker.on('error', (error) => (this.threadError ??= error));
    this.worker.once('online', () => {
      this.#online = true;
      this.#firstRead();
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve));
  }

  /**
   * Waits for `init`: `take` is handed every message until then. Rejects with `LoopInitError` (after terminating the
   * thread) when init fails, the thread exits, or `readyTimeout` ms pass.
   */
  async handshake(readyTimeout: number, take: (hook: ((message: FromLoop) => void) | undefined) => void): Promise<ReadyInfo> {
    try {
      return await new Promise<ReadyInfo>((resolve, reject) => {
        this.watchHandshake(readyTimeout, take, (error, info) => (error ? reject(error) : resolve(info!)), false);
      });
    } catch (error) {
      await this.worker.terminate();
      throw error;
    }
  }

  /**
   * The handshake without a promise: `done` is called once, synchronously from whatever settles it (the ready or
   * init-failed message handed to `take`'s hook, the readyTimeout timer, the thread's exit). Returns a check that a
   * caller blocked on this thread (whose timers and events cannot run) makes instead: it settles the handshake if
   * `readyTimeout` has passed or the thread has died. A failure terminates the thread unless `terminate` is false.
   */
  watchHandshake(
    readyTimeout: number, take: (hook: ((message: FromLoop) => void) | undefined) => void,
    done: (error: Error | undefined, info?: ReadyInfo) => void, terminate = true,
  ): { check(): void; deadline: number } {
    let settled = false;
    const deadline = performance.now() + readyTimeout;
    const finish = (error: Error | undefined, info?: ReadyInfo): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      take(undefined);
      if (error && terminate) void this.worker.terminate();
      done(error, info);
    };
    const timedOut = (): void => finish(new LoopInitError(`${this.label} was not ready within ${readyTimeout} ms`, {
      cause: new TimeoutError(`init did not finish within readyTimeout (${readyTimeout} ms)`, readyTimeout),
    }));
    const exited = (code: number): void => finish(new LoopInitError(`${this.label} exited (code ${code}) before it was ready`, {
      cause: this.threadError ?? crashError(this.label, code, undefined),
    }));
    const timer = readyTimeout === Infinity ? undefined : setTimeout(timedOut, readyTimeout);
    take((message) => {
      if (message.type === 'ready') {
        this.#ready = true;
        this.#firstRead();
        finish(undefined, { initValue: message.initValue, exports: message.exports, generators: message.generators, health: message.health });
      } else if (message.type === 'init-failed') {
        const cause = decodeThrown(message.error);
        finish(new LoopInitError(`${this.label} failed to start: ${(cause as Error)?.message ?? String(cause)}`, { cause }));
      }
    });
    void this.exited.then(exited);
    return {
      deadline,
      check: () => {
        if (settled) return;
        if (performance.now() >= deadline) timedOut();
        else if (this.deadNow()) exited(Atomics.load(this.ctrl, CTRL_STATE) === STATE_DEAD ? Atomics.load(this.ctrl, CTRL_EXIT_CODE) : 1);
      },
    };
  }

  /**
   * Closes the thread by force: it is told to cancel what it runs and run `dispose()` without waiting (so that what
   * `init` acquired, child processes say, is released), and terminated if it has not ended DISPOSE_GRACE_MS later.
   * Returns that timer.
   */
  forceClose(send: (message: ToLoop) => void, restart = false): NodeJS.Timeout {
    try {
      send(restart ? { type: 'close', cancelPending: true, force: true, restart } : { type: 'close', cancelPending: true, force: true });
    } catch {
      // the port is gone: the thread is ending anyway
    }
    return setTimeout(() => void this.worker.terminate(), DISPOSE_GRACE_MS);
  }

  /**
   * A synchronous check that the thread has died, for a caller blocked on it (no 'exit' event can reach it) when the
   * thread ended without marking its control block (no JS ran on its way out: out of memory, say). It reads the
   * thread's utilization, which Node gives only once this thread has handled the worker's 'online' event (zeros
   * before), from the loop's start time read on the first call that finds it, never once the thread has stopped: a
   * dead thread reads idle -1 if that first read came while it lived, and zeros forever if not. So the first read is
   * made as soon as the thread is both online here and ready (it says so from its running loop, worker/entry.ts), and
   * zeros after that mean the thread is gone. A thread that dies while this thread is blocked before seeing it online
   * cannot be probed: its 'exit' event tells, once the caller's wait ends.
   */
  probeDead(): boolean {
    if (!READS_UTILIZATION) return false;
    const { idle, active } = this.worker.performance.eventLoopUtilization();
    return idle < 0 || (this.#online && this.#ready && idle === 0 && active === 0);
  }

  /** The first utilization read, once the thread is both online here and ready: see probeDead. */
  #firstRead(): void {
    if (this.#online && this.#ready) this.eventLoopUtilization();
  }

  /** The thread's event-loop utilization so far (`worker.performance.eventLoopUtilization()`), where readable. */
  eventLoopUtilization(): EventLoopUtilization | undefined {
    return READS_UTILIZATION ? this.worker.performance.eventLoopUtilization() : undefined;
  }

  /** The thread has ended (it marked its control block on the way out, or can no longer be probed). */
  deadNow(): boolean {
    return Atomics.load(this.ctrl, CTRL_STATE) === STATE_DEAD || this.probeDead();
  }
}

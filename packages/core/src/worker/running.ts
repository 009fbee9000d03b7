/**
 * What the loop thread's runtime (runtime.ts) and its helpers (pool-lane.ts, run-stream.ts, run-service.ts) share:
 * a connection, a running call, and the part of the runtime the helpers use. Types only, so that the helpers need
 * not import the runtime that imports them.
 */
import type { MessagePort, TransferListItem } from 'node:worker_threads';
import type { WireThrown } from '../error-codec.ts';
import type { CallKind, CallMessage, FromLoop } from '../thread/protocol.ts';

/** Where a connection's calls with a concurrency limit (a pool's) wait, and its results are batched. */
export interface Lane {
  pushAll(calls: readonly CallMessage[], cancelled: ReadonlySet<number> | undefined): void;
  pushFlat(flat: readonly unknown[], limit: number, cancelled: ReadonlySet<number> | undefined): void;
  /** Holds a message for the next batch; false if it must go now. */
  hold(message: FromLoop, transferList: readonly TransferListItem[] | undefined): boolean;
  /** A queued call was cancelled: it is answered and never runs. */
  drop(seq: number, reason: WireThrown): void;
  dropAll(): void;
}

export interface Conn {
  id: number;
  port: MessagePort;
  bell: Int32Array;
  subscribed: boolean;
  lane?: Lane;
}

/** One call running in this loop. */
export interface Running {
  conn: Conn;
  seq: number;
  id: string;
  fn: string;
  kind: CallKind;
  /** Made on first use (call-context.ts's signalOf and abortRunning): most calls never look at their signal. */
  controller: AbortController | undefined;
  /** Stream credit: how many more items the caller will take. */
  credit: number;
  wake: (() => void) | undefined;
  stopping: boolean;
  startedAt: number;
}

/** What the helpers call on the runtime. */
export interface RuntimeApi {
  readonly name: string;
  post(conn: Conn, message: FromLoop, transferList?: readonly TransferListItem[]): void;
  /** Posts a result; a value that cannot be cloned turns into a `CloneError` result. */
  postResult(conn: Conn, outcome: FromLoop, transferList: readonly TransferListItem[] | undefined): void;
  emit(event: string, payload: unknown, taskId: string | undefined, internal?: boolean): void;
  /** Starts a call now (the pool lane decides when); undefined when it finished synchronously. */
  start(conn: Conn, message: CallMessage): Promise<void> | undefined;
  /** Counts a call that was cancelled before it started. */
  countCancelled(): void;
}

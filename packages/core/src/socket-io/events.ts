/**
 * The one typed event map of sideloop's Socket.IO traffic, shared by the relay (`sideloop/socket.io`), the
 * `sideloop serve` server and the dashboard. Payloads are plain JSON.
 */
import type { DelayStats } from '../thread/health.ts';

export type { DelayStats };

/** The one health model's verdict on a loop or pool (`targetHealth` in `sideloop/remote`). */
export type LoopHealth = 'ok' | 'degraded' | 'unhealthy';

/** One loop or pool, as `GET /api/loops` and `loop:stats` describe it. */
export interface LoopInfo {
  name: string;
  kind: 'loop' | 'pool';
  state: string;
  /** `degraded` while it restarts; `unhealthy` in any other state than ready, or when its health checks fail. */
  health: LoopHealth;
  /** Its `health()` checks failed `healthFailures` times in a row (and none passed since). */
  unhealthy: boolean;
  /** Times it got a fresh thread. */
  restarts: number;
  /** Functions callable over HTTP and Socket.IO. */
  expose: string[];
  threads: number;
  pending: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  eventLoopDelay: DelayStats;
}

/** Sent as `loop:stats` about once a second. */
export interface StatsSnapshot {
  /** `Date.now()` when taken. */
  at: number;
  /** The main thread of the server process. */
  main: { eventLoopDelay: DelayStats };
  loops: LoopInfo[];
}

/** How errors travel to clients (HTTP bodies use the same shape under `error`). */
export interface ErrorInfo {
  code: string;
  message: string;
  name?: string;
}

export type SettledState = 'fulfilled' | 'rejected' | 'cancelled';

export interface TaskProgressEvent {
  id: string;
  progress: unknown;
}

export interface TaskDoneEvent {
  id: string;
  state: SettledState;
  value?: unknown;
  /** In place of `value` when its JSON is larger than the relay's `maxValueBytes` (64 KiB by default). */
  valueOmitted?: { bytes: number };
  error?: ErrorInfo;
}

export interface TaskSubmitRequest {
  loop: string;
  fn: string;
  args?: unknown[];
  /** Store the task in the cluster (a `sideloop serve --cluster` node): it survives restarts and runs on any node. */
  durable?: boolean;
}

export type TaskSubmitReply = { id: string } | { error: ErrorInfo };
export type TaskCancelReply = { id: string; state: 'cancelled' } | { error: ErrorInfo };

/** Server to client. Relayed loop events keep their own names and payloads (the index signature). */
export interface ServerToClientEvents {
  'task:progress': (event: TaskProgressEvent) => void;
  'task:done': (event: TaskDoneEvent) => void;
  'loop:stats': (snapshot: StatsSnapshot) => void;
  [relayed: string]: (...payload: any[]) => void;
}

/** Client to server. */
export interface ClientToServerEvents {
  'task:submit': (request: TaskSubmitRequest, ack?: (reply: TaskSubmitReply) => void) => void;
  'task:cancel': (request: { id: string }, ack?: (reply: TaskCancelReply) => void) => void;
}

/** Names the relay itself sends; a loop event with one of these names is never relayed. */
export const relayEventNames = ['task:progress', 'task:done', 'loop:stats'] as const;

/** The room a task's submitter joins: `task:<id>`. */
export function taskRoom(id: string): string {
  return `task:${id}`;
}

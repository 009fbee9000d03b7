/**
 * Errors a client's request can meet, shared by the Socket.IO relay and the HTTP API: a stable `code` and the HTTP
 * `status` that fits it.
 */
import { registerSideloopErrorClass } from '../error-codec.ts';
import { SideloopError } from '../errors.ts';
import type { ErrorInfo } from '../socket-io/events.ts';

export type RequestErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'FUNCTION_NOT_EXPOSED'
  | 'UNKNOWN_LOOP'
  | 'UNKNOWN_FUNCTION'
  | 'UNKNOWN_TASK'
  | 'NOT_FOUND'
  | 'TASK_SETTLED'
  | 'REQUEST_TIMEOUT'
  | 'BODY_TOO_LARGE'
  | 'URI_TOO_LONG'
  | 'HEADERS_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'NOT_READY'
  | 'QUEUE_FULL'
  | 'SIDELOOP_CLUSTER_UNAVAILABLE'
  | 'CANCELLED'
  | 'TIMEOUT'
  | 'INTERNAL';

const STATUS: Record<RequestErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  FUNCTION_NOT_EXPOSED: 403,
  UNKNOWN_LOOP: 404,
  UNKNOWN_FUNCTION: 404,
  UNKNOWN_TASK: 404,
  NOT_FOUND: 404,
  TASK_SETTLED: 409,
  REQUEST_TIMEOUT: 408,
  BODY_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  HEADERS_TOO_LARGE: 431,
  RATE_LIMITED: 429,
  NOT_READY: 503,
  QUEUE_FULL: 503,
  SIDELOOP_CLUSTER_UNAVAILABLE: 503,
  CANCELLED: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
};

/**
 * A request a client cannot have: a `SideloopError` whose `code` is the one clients read in `{ error: { code } }`
 * (`'BAD_REQUEST'`, `'UNKNOWN_TASK'`, …), not a `SIDELOOP_…` code (but for the cluster's Redis out of reach, which keeps
 * the code of `ClusterUnavailableError` so that clients read one code wherever they meet it). It narrows the base's `code: string` to
 * `RequestErrorCode`, so a `switch (error.code)` is checked, and `status` is the HTTP status that code answers.
 */
export class RequestError extends SideloopError {
  override readonly code: RequestErrorCode;
  readonly status: number;
  constructor(code: RequestErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.status = STATUS[code];
  }
}
registerSideloopErrorClass(RequestError);

/** How any error travels to a client: `{ code, message, name }`. */
export function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : 'TASK_FAILED', message: error.message, name: error.name };
  }
  return { code: 'TASK_FAILED', message: String(error), name: 'Error' };
}

/** A client-supplied name or id as an error message quotes it: at most `max` characters. */
export function quoted(text: string, max = 64): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

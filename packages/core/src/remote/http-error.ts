/**
 * The HTTP answer for an error a loop call can end with, one table for `sideloop serve` and for apps (the Fastify
 * plugin, the Express middleware): what says the loop cannot serve now is a 503 (with `Retry-After`), a time limit
 * that passed a 504. Everything else is the app's own failure and is left to the app's error handling: a task's own
 * error, and mistakes in the app's code (an unknown function, a value that cannot be cloned).
 */
import { RequestError } from './request-error.ts';

/** Seconds a client should wait before retrying a 503 that clears by itself. */
export const RETRY_AFTER_SECONDS = 1;

/** The `RequestError` that answers `error`, or undefined when it is not one this table maps. */
export function httpErrorOf(error: unknown): RequestError | undefined {
  if (error instanceof RequestError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'SIDELOOP_LOOP_CLOSED':
    case 'SIDELOOP_LOOP_CRASHED':
    case 'SIDELOOP_LOOP_INIT':
      return new RequestError('NOT_READY', message, { cause: error });
    case 'SIDELOOP_QUEUE_FULL':
      return new RequestError('QUEUE_FULL', message, { cause: error });
    case 'SIDELOOP_CLUSTER_UNAVAILABLE':
      return new RequestError('SIDELOOP_CLUSTER_UNAVAILABLE', message, { cause: error });
    case 'SIDELOOP_CLUSTER_CLOSED':
      return new RequestError('NOT_READY', message, { cause: error });
    case 'SIDELOOP_CANCELLED':
      return new RequestError('CANCELLED', message, { cause: error });
    case 'SIDELOOP_TIMEOUT':
      return new RequestError('TIMEOUT', message, { cause: error });
    default:
      return undefined;
  }
}

/** Whether an answer with this error's code should say when to retry: the 503s that clear by themselves. */
export function retryAfterOf(error: RequestError): number | undefined {
  const clears = error.code === 'QUEUE_FULL' || error.code === 'NOT_READY' || error.code === 'CANCELLED' || error.code === 'SIDELOOP_CLUSTER_UNAVAILABLE';
  return clears ? RETRY_AFTER_SECONDS : undefined;
}

/** What every front end answers for `error`: its status, `Retry-After` where it clears by itself, `{ error: { code, message } }`. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: { error: { code: string; message: string } };
}

export function httpAnswerOf(error: RequestError): HttpAnswer {
  const retryAfter = retryAfterOf(error);
  return {
    status: error.status,
    headers: retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) },
    body: { error: { code: error.code, message: error.message } },
  };
}

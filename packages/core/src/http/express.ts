/**
 * `sideloop/express`: loops in an Express (or any `node:http`) app. `sideloopErrors()` answers the loop errors an
 * app cannot help (a loop not ready, a full queue, a time limit) as `sideloop serve` does, and `drainOnShutdown(server)`
 * makes a loop's `shutdownSignals` stop the HTTP server first, so requests in flight finish on loops still open and
 * new ones go elsewhere instead of failing on a closing loop. Express itself is not imported: the middleware has the
 * standard `(error, request, response, next)` shape.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { drainBeforeShutdown } from '../lifecycle.ts';
import { closeServer } from './drain.ts';
import { httpAnswerOf, httpErrorOf, type HttpAnswer } from '../remote/http-error.ts';

/** The body every mapped error answers: `{ error: { code, message } }`, as `sideloop serve` does. */
export type HttpErrorBody = HttpAnswer['body'];

type ErrorMiddleware = (error: unknown, request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * Express error middleware (register it after the routes): a loop that is not ready (closed, crashed, restarting
 * past the call's wait) or a full pool queue answers 503 with `Retry-After`, a cancelled task 503, a `TimeoutError`
 * 504, each as `{ error: { code, message } }`. Any other error goes on to the app's next error handler untouched.
 */
export function sideloopErrors(): ErrorMiddleware {
  return (error, _request, response, next) => {
    const mapped = httpErrorOf(error);
    if (!mapped || response.headersSent) return next(error);
    const { status, headers, body } = httpAnswerOf(mapped);
    response.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8' });
    response.end(JSON.stringify(body));
  };
}

/**
 * On the first shutdown signal of a loop or pool started with `shutdownSignals`, `server` stops accepting
 * connections (each keep-alive one ends once its response is out) and the loops wait, up to their `shutdownTimeout`,
 * for the requests in flight to finish before they drain in turn. Returns a function that undoes it.
 */
export function drainOnShutdown(server: Server): () => void {
  return drainBeforeShutdown(() => closeServer(server));
}

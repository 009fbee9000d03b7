/**
 * Every HTTP error answers `{ error: { code, message } }` with a fitting status: request errors keep theirs; Fastify's
 * own (body too large, wrong content type, bad URL, long parameters), the static files' (a path outside the
 * dashboard) and Node's parser's (headers too large, a request that did not arrive in time) are mapped onto the same
 * shape, and so are the loop errors sideloop/remote's `httpErrorOf` maps (a loop not ready: 503, a time limit: 504).
 * A 503 that clears by itself (`QUEUE_FULL`, `NOT_READY`) says when to retry.
 */
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyServerOptions } from 'fastify';
import { httpAnswerOf, httpErrorOf, RequestError } from 'sideloop/remote';

export function toRequestError(error: unknown): RequestError {
  const mapped = httpErrorOf(error);
  if (mapped) return mapped;
  const e = error as Partial<FastifyError> & { message?: string; status?: number };
  const message = e.message ?? String(error);
  const status = e.statusCode ?? e.status;
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) return new RequestError('BODY_TOO_LARGE', 'The request body is too large');
  if (e.code === 'FST_ERR_BAD_URL') return new RequestError('BAD_REQUEST', 'The request URL is not valid (a malformed percent-encoding)');
  if (e.code === 'FST_ERR_MAX_PARAM_LENGTH' || status === 414) return new RequestError('URI_TOO_LONG', 'A path segment of the request URL is too long');
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || status === 415) return new RequestError('BAD_REQUEST', 'The body must be JSON (`content-type: application/json`)');
  if (status === 429) return new RequestError('RATE_LIMITED', message);
  if (status === 403) return new RequestError('FORBIDDEN', 'That path is outside what the server serves');
  if (status === 404) return new RequestError('NOT_FOUND', message);
  if (status !== undefined && status >= 400 && status < 500) return new RequestError('BAD_REQUEST', message);
  return new RequestError('INTERNAL', 'Internal server error', { cause: error });
}

function send(reply: FastifyReply, error: RequestError): FastifyReply {
  const { status, headers, body } = httpAnswerOf(error);
  return reply.status(status).headers(headers).send(body);
}

/** Fastify's `frameworkErrors`: errors met before routing (a bad URL, a parameter over `maxParamLength`). */
export const frameworkErrors: NonNullable<FastifyServerOptions['frameworkErrors']> = (error, _request, reply) => {
  void send(reply, toRequestError(error));
};

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses before there is a request (headers too large, a
 * request not received within `requestTimeout`, a malformed request line) gets the same body shape.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const mapped = error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    ? new RequestError('REQUEST_TIMEOUT', 'The request did not arrive in time')
    : error.code === 'HPE_HEADER_OVERFLOW'
      ? new RequestError('HEADERS_TOO_LARGE', 'The request headers are too large')
      : new RequestError('BAD_REQUEST', 'The request is not valid HTTP');
  const body = JSON.stringify(httpAnswerOf(mapped).body);
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${mapped.status} ${STATUS_CODES[mapped.status]}\r\nContent-Type: application/json\r\n`
      + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(error);
}

export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, _request, reply) => {
    const mapped = toRequestError(error);
    if (mapped.status >= 500 && mapped.code === 'INTERNAL') app.log.error(error);
    return send(reply, mapped);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    return send(reply, new RequestError('NOT_FOUND', `No route for ${request.method} ${path.length > 200 ? `${path.slice(0, 200)}…` : path}`));
  });
}

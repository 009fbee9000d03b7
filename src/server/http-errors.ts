/**
 * Every HTTP error answers `{ error: { code, message } }` with a fitting status: request errors keep theirs,
 * Fastify's own (bad JSON, body too large, wrong content type) are mapped onto the same codes.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { RequestError } from '../socket-io/request-error.ts';

export function toRequestError(error: unknown): RequestError {
  if (error instanceof RequestError) return error;
  const e = error as Partial<FastifyError> & { message?: string };
  const message = e.message ?? String(error);
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e.statusCode === 413) return new RequestError('BODY_TOO_LARGE', 'The request body is too large');
  if (e.statusCode === 429) return new RequestError('RATE_LIMITED', message);
  if (e.statusCode === 404) return new RequestError('NOT_FOUND', message);
  if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) return new RequestError('BAD_REQUEST', message);
  return new RequestError('INTERNAL', 'Internal server error', { cause: error });
}

export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, _request, reply) => {
    const mapped = toRequestError(error);
    if (mapped.status >= 500 && mapped.code === 'INTERNAL') app.log.error(error);
    return reply.status(mapped.status).send({ error: { code: mapped.code, message: mapped.message } });
  });
  app.setNotFoundHandler((request, reply) => {
    return reply.status(404).send({ error: { code: 'NOT_FOUND', message: `No route for ${request.method} ${request.url.split('?')[0]}` } });
  });
}

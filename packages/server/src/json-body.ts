/**
 * The JSON body parser: Fastify's own refuses `__proto__` keys but answers only "Body is not valid JSON", so this
 * one says what is refused. Keys named `__proto__`, and `constructor` objects holding a `prototype`, are refused
 * anywhere in the body (they are harmless to `JSON.parse` but not to code that merges objects).
 */
import type { FastifyInstance } from 'fastify';
import { RequestError } from 'sideloop/remote';

export function parseJsonBody(text: string): unknown {
  let forbidden = false;
  let value: unknown;
  try {
    value = JSON.parse(text, (key, v: unknown) => {
      if (key === '__proto__' || (key === 'constructor' && typeof v === 'object' && v !== null && 'prototype' in v)) forbidden = true;
      return v;
    });
  } catch (error) {
    throw new RequestError('BAD_REQUEST', `The body is not valid JSON: ${(error as Error).message}`);
  }
  if (forbidden) throw new RequestError('BAD_REQUEST', 'The body has a `__proto__` or `constructor.prototype` key, which is refused');
  return value;
}

export function registerJsonBody(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}

/**
 * Token checks for HTTP (`Authorization: Bearer <token>`) and Socket.IO (`auth.token`, on the handshake and on
 * every recovered connection). A token is required whenever the server listens on anything but a loopback address.
 *
 * HTTP is checked on what the router resolved, never on the raw URL: `/%61pi/loops`, `/api/loops/`,
 * `http://x/api/loops` (absolute form) and `/x/../api/loops` all reach the route `/api/loops`, so they all need the
 * token. Only the routes in `PUBLIC_ROUTES` (the dashboard page and its static assets, which hold no data) answer
 * without it; everything else, unknown paths included, answers 401.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { RequestError } from 'sideloop/remote';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Route patterns (as registered) that need no token. */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/', '/vendor/:file', '/*']);

/** A token is visible ASCII without spaces, so that it survives `Authorization: Bearer <token>` unchanged. */
export const TOKEN_PATTERN = /^[\x21-\x7e]{8,}$/;

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time comparison against the expected token. */
export function tokenMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string' || given === '') return false;
  return timingSafeEqual(digest(expected), digest(given));
}

/** The token from an `Authorization: Bearer …` header, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header && /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match ? match[1] : undefined;
}

/** Requires the token on every HTTP request but those routed to `PUBLIC_ROUTES`. */
export function requireHttpToken(app: FastifyInstance, token: string): void {
  app.addHook('onRequest', async (request) => {
    const route = request.routeOptions.url;
    if (route !== undefined && PUBLIC_ROUTES.has(route)) return;
    if (!tokenMatches(token, bearerToken(request.headers.authorization))) {
      throw new RequestError('UNAUTHORIZED', 'A valid token is required: send `Authorization: Bearer <token>`');
    }
  });
}

/**
 * The error a Socket.IO middleware passes on for a missing or wrong `auth.token`: the client's `connect_error` gets
 * its message and `data.code`.
 */
export function socketTokenError(given: unknown, token: string): (RequestError & { data: { code: string } }) | undefined {
  if (tokenMatches(token, given)) return undefined;
  const error = new RequestError('UNAUTHORIZED', 'A valid token is required in the handshake `auth.token`');
  return Object.assign(error, { data: { code: error.code } });
}

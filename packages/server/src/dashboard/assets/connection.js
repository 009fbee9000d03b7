// How the page talks to `sideloop serve`: the access token, JSON over HTTP and the Socket.IO connection.
import { io } from 'socket.io-client';

const TOKEN_KEY = 'sideloop.token';

/**
 * The access token, if the server wants one. It arrives once as `?token=…` in the address (what
 * `sideloop serve --token` prints), is kept for this tab only, and is removed from the address bar.
 */
export function readToken() {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function saveToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * An error the server answered with `{ error: { code, message } }`: over HTTP (`status` is the HTTP status), or in a
 * Socket.IO acknowledgement (`status` is undefined).
 */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = body?.error?.code ?? (status === undefined ? 'REFUSED' : `HTTP_${status}`);
    /** The answer's JSON body, when it had one. */
    this.body = body;
  }
}

/** JSON request to the server's HTTP API; rejects with ApiError on a non-2xx answer. */
export async function api(token, method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/**
 * Opens the Socket.IO connection and reports its state through `onStatus`:
 * 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'unauthorized'.
 */
export function openSocket(token, onStatus) {
  const socket = io({ auth: token ? { token } : {}, transports: ['websocket', 'polling'] });
  onStatus('connecting');
  socket.on('connect', () => onStatus('connected', socket.recovered));
  socket.on('disconnect', (reason) => {
    if (reason === 'io client disconnect') return onStatus('offline');
    // The client retries lost connections by itself, but not one the server closed (a restart, a shutdown):
    // try again after a pause so the page comes back with the server.
    if (reason === 'io server disconnect') setTimeout(() => socket.connect(), 2000);
    onStatus('reconnecting');
  });
  socket.on('connect_error', (err) => {
    const text = `${err?.message ?? ''} ${err?.data?.code ?? ''}`.toLowerCase();
    if (/unauthori|token|401|forbidden/.test(text)) onStatus('unauthorized');
    else onStatus(socket.active ? 'reconnecting' : 'offline');
  });
  socket.io.on('reconnect_attempt', () => onStatus('reconnecting'));
  return socket;
}

// The page's live state: one Socket.IO connection, the latest loop snapshot, the event-loop delay history,
// the relayed events and the tasks this page submitted. Components read `state` and call `actions`.
import { useEffect, useMemo, useReducer, useRef } from 'preact/hooks';
import { api, openSocket, readToken, saveToken } from './connection.js';

/** How many seconds of event-loop delay the chart keeps. */
export const HISTORY_SECONDS = 180;
const MAX_EVENTS = 60;
const MAX_TASKS = 40;
const SETTLED = new Set(['fulfilled', 'rejected', 'cancelled']);

export const isSettled = (state) => SETTLED.has(state);

const initial = {
  status: 'connecting',
  loops: [],
  /** Exposed function names by loop, from GET /api/loops. */
  expose: {},
  main: undefined,
  loopsError: undefined,
  history: { t: [], main: [], loops: {} },
  events: [],
  eventTotal: 0,
  tasks: [],
};

let nextEventKey = 0;
/** Task updates that arrived before their task row, by task id. */
const orphans = new Map();

function reduce(state, action) {
  switch (action.type) {
    case 'status':
      return { ...state, status: action.status };
    case 'loops': {
      const expose = { ...state.expose };
      for (const l of action.snapshot.loops) expose[l.name] = l.expose ?? [];
      return { ...state, loops: action.snapshot.loops, expose, main: action.snapshot.main ?? state.main, loopsError: undefined };
    }
    case 'loops-error':
      return { ...state, loopsError: action.message };
    case 'stats': {
      // Exposed functions are fixed by the config: a snapshot that leaves them out keeps what GET /api/loops said.
      const loops = action.snapshot.loops.map((l) => ((l.expose ?? []).length > 0 || !state.expose[l.name] ? l : { ...l, expose: state.expose[l.name] }));
      return {
        ...state, loops, main: action.snapshot.main ?? state.main, loopsError: undefined,
        history: action.chart ? record(state.history, action.snapshot, action.at) : state.history,
      };
    }
    case 'event': {
      const event = { key: nextEventKey++, name: action.name, payload: action.payload, at: action.at };
      return { ...state, events: [event, ...state.events].slice(0, MAX_EVENTS), eventTotal: state.eventTotal + 1 };
    }
    case 'task-add': {
      let task = action.task;
      for (const early of orphans.get(task.id) ?? []) task = merge(task, early.patch, early.at);
      orphans.delete(task.id);
      return { ...state, tasks: [task, ...state.tasks].slice(0, MAX_TASKS) };
    }
    case 'task-update':
      if (!state.tasks.some((t) => t.id === action.id)) {
        // Progress can overtake the submit acknowledgement; keep it until the task row exists.
        if (!orphans.has(action.id) && orphans.size > 100) orphans.clear();
        orphans.set(action.id, [...(orphans.get(action.id) ?? []), action].slice(-20));
        return state;
      }
      return { ...state, tasks: state.tasks.map((t) => (t.id === action.id ? merge(t, action.patch, action.at) : t)) };
    case 'tasks-clear':
      return { ...state, tasks: state.tasks.filter((t) => !isSettled(t.state)) };
    default:
      return state;
  }
}

/** Applies what the server said about a task; a settled task stays settled. */
function merge(task, patch, at) {
  if (isSettled(task.state)) return task;
  const next = { ...task, ...patch };
  if (patch.progress !== undefined && next.state === 'pending') next.state = 'running';
  if (isSettled(next.state)) {
    next.settledAt = at;
    if (next.state === 'fulfilled') next.progress = 1;
  }
  return next;
}

/** Appends one stats snapshot to the p99 history (one column per snapshot, aligned across series). */
function record(history, { loops, main }, at) {
  const t = at / 1000;
  const cut = history.t.findIndex((x) => x >= t - HISTORY_SECONDS);
  const from = cut === -1 ? history.t.length : cut;
  const next = { t: [...history.t.slice(from), t], main: [...history.main.slice(from), main?.p99 ?? null], loops: {} };
  const names = new Set([...Object.keys(history.loops), ...loops.map((l) => l.name)]);
  for (const name of names) {
    const old = history.loops[name] ?? history.t.map(() => null);
    const v = loopDelay(loops.find((l) => l.name === name))?.p99;
    next.loops[name] = [...old.slice(from), typeof v === 'number' ? v : null];
  }
  return next;
}

/**
 * Reads a `loop:stats` snapshot (`{ at, main: { eventLoopDelay }, loops }`) or a `GET /api/loops` answer (that
 * shape, or the bare array) into `{ loops, main }`; null when it is neither.
 */
function asSnapshot(payload) {
  const loops = Array.isArray(payload) ? payload : Array.isArray(payload?.loops) ? payload.loops : null;
  if (!loops) return null;
  const main = payload?.main?.eventLoopDelay ?? loops.map((l) => l.eventLoopDelay?.main).find(Boolean);
  return { loops, main };
}

/** A loop's own event-loop delay stats, whether sent flat (`{ p50, p99, … }`) or as `{ loop, main }`. */
export function loopDelay(loop) {
  const d = loop?.eventLoopDelay;
  return d && typeof d.p99 === 'number' ? d : d?.loop;
}

export function useLive() {
  const [state, dispatch] = useReducer(reduce, initial);
  const socketRef = useRef(null);
  const tokenRef = useRef(readToken());
  const tasksRef = useRef(state.tasks);
  tasksRef.current = state.tasks;

  useEffect(() => {
    const socket = connect();
    return () => socket.close();
  }, []);

  function connect() {
    const token = tokenRef.current;
    // The server only samples while someone watches, so the first snapshot after connecting covers an unknown
    // stretch (server start-up, say): it updates the cards but stays off the per-second chart.
    let firstStats = true;
    const socket = openSocket(token, (status, recovered) => {
      dispatch({ type: 'status', status });
      if (status === 'connected') {
        firstStats = true;
        void refreshLoops();
        if (!recovered) void refreshTasks();
      }
    });
    socket.on('loop:stats', (payload) => {
      const snapshot = asSnapshot(payload);
      if (!snapshot) return;
      dispatch({ type: 'stats', snapshot, chart: !firstStats, at: typeof payload.at === 'number' ? payload.at : Date.now() });
      firstStats = false;
    });
    socket.on('task:progress', ({ id, progress }) => {
      dispatch({ type: 'task-update', id, patch: { progress, state: 'running' }, at: Date.now() });
    });
    socket.on('task:done', ({ id, state, value, valueOmitted, error }) => {
      dispatch({ type: 'task-update', id, patch: { state, value, valueOmitted, error }, at: Date.now() });
    });
    socket.onAny((name, payload) => {
      if (name.startsWith('task:') || name.startsWith('loop:')) return;
      dispatch({ type: 'event', name, payload, at: Date.now() });
    });
    socketRef.current = socket;
    return socket;
  }

  async function refreshLoops() {
    try {
      const data = await api(tokenRef.current, 'GET', '/api/loops');
      const snapshot = asSnapshot(data);
      if (snapshot) dispatch({ type: 'loops', snapshot });
    } catch (err) {
      if (err.status === 401) dispatch({ type: 'status', status: 'unauthorized' });
      else dispatch({ type: 'loops-error', message: err.message });
    }
  }

  /** Asks the HTTP API about every unsettled task (after a reconnect that lost the socket's rooms, or as a fallback). */
  async function refreshTasks() {
    const open = tasksRef.current.filter((t) => !isSettled(t.state) && t.id);
    await Promise.all(open.map(async (t) => {
      try {
        const info = await api(tokenRef.current, 'GET', `/api/tasks/${encodeURIComponent(t.id)}`);
        if (info && info.state) {
          const patch = { state: info.state };
          if (info.progress !== undefined && info.progress !== null) patch.progress = info.progress;
          if ('value' in info) patch.value = info.value;
          if ('valueOmitted' in info) patch.valueOmitted = info.valueOmitted;
          if ('error' in info) patch.error = info.error;
          dispatch({ type: 'task-update', id: t.id, patch, at: Date.now() });
        }
      } catch (err) {
        if (err.status === 404) dispatch({ type: 'task-update', id: t.id, patch: { state: 'rejected', error: { message: 'no longer known to the server' } }, at: Date.now() });
      }
    }));
  }

  // A slow safety net: unsettled tasks are re-read over HTTP every few seconds, so a missed socket message
  // (or a task submitted while the socket was down) still ends up settled on the page.
  useEffect(() => {
    const timer = setInterval(() => {
      if (tasksRef.current.some((t) => !isSettled(t.state))) void refreshTasks();
    }, 3000);
    return () => clearInterval(timer);
  }, []);

  const actions = useMemo(() => ({
    /** Runs `fn(...args)` on `loop`; resolves with the task id, rejects with the server's reason. */
    async submit(loop, fn, args) {
      const socket = socketRef.current;
      let id;
      if (socket && socket.connected) {
        const ack = await socket.timeout(15000).emitWithAck('task:submit', { loop, fn, args });
        if (!ack || ack.error || !ack.id) {
          const e = new Error(ack?.error?.message ?? 'the server refused the task');
          e.code = ack?.error?.code;
          throw e;
        }
        id = ack.id;
      } else {
        ({ id } = await api(tokenRef.current, 'POST', `/api/loops/${encodeURIComponent(loop)}/tasks`, { fn, args }));
      }
      const existing = tasksRef.current.find((t) => t.id === id);
      if (!existing) {
        const task = { id, loop, fn, args, state: 'pending', progress: undefined, submittedAt: Date.now() };
        tasksRef.current = [task, ...tasksRef.current];
        dispatch({ type: 'task-add', task });
      }
      return id;
    },
    /** Cancels a running task; the server's answer (or its 409) settles the row. */
    async cancel(id) {
      dispatch({ type: 'task-update', id, patch: { cancelling: true }, at: Date.now() });
      try {
        const res = await api(tokenRef.current, 'DELETE', `/api/tasks/${encodeURIComponent(id)}`);
        dispatch({ type: 'task-update', id, patch: { state: res?.state ?? 'cancelled', cancelling: false }, at: Date.now() });
      } catch (err) {
        dispatch({ type: 'task-update', id, patch: { cancelling: false }, at: Date.now() });
        if (err.status === 409) await refreshTasks();
        else throw err;
      }
    },
    clearFinished() {
      dispatch({ type: 'tasks-clear' });
    },
    /** Replaces the access token and reconnects with it. */
    setToken(token) {
      tokenRef.current = token || undefined;
      saveToken(tokenRef.current);
      socketRef.current?.close();
      connect();
    },
  }), []);

  return { state, actions };
}

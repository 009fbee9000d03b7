// The page's live state: one Socket.IO connection feeding the pure reducer of dashboard-state.js (the latest loop
// snapshot, the event-loop delay history, the relayed events and the tasks this page submitted). Components read
// `state` and call `actions`.
import { useEffect, useMemo, useReducer, useRef } from 'preact/hooks';
import { ApiError, api, openSocket, readToken, saveToken } from './connection.js';
import { asSnapshot, initialState, isSettled, reduce } from './dashboard-state.js';
import { frameBatch } from './frame-batch.js';

export { HISTORY_SECONDS, isSettled, loopDelay } from './dashboard-state.js';

export function useLive() {
  const [state, dispatch] = useReducer(reduce, initialState);
  // What the socket brings is applied once a frame (frame-batch.js); the page's own actions at once.
  const live = useMemo(() => frameBatch(dispatch), []);
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
    const socket = openSocket(token, (status, recovered) => {
      live.flush();
      dispatch({ type: 'status', status });
      if (status === 'connected') {
        void refreshLoops();
        if (!recovered) void refreshTasks();
      }
    });
    socket.on('loop:stats', (payload) => {
      const snapshot = asSnapshot(payload);
      if (snapshot) live.push({ type: 'stats', snapshot, at: typeof payload.at === 'number' ? payload.at : Date.now() });
    });
    socket.on('task:progress', ({ id, progress }) => {
      live.push({ type: 'task-update', id, patch: { progress, state: 'running' }, at: Date.now() });
    });
    socket.on('task:done', ({ id, state, value, valueOmitted, error }) => {
      live.push({ type: 'task-update', id, patch: { state, value, valueOmitted, error }, at: Date.now() });
    });
    socket.onAny((name, payload) => {
      if (name.startsWith('task:') || name.startsWith('loop:')) return;
      live.push({ type: 'event', name, payload, at: Date.now() });
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
        if (!ack || ack.error || !ack.id) throw new ApiError(undefined, { error: { message: 'the server refused the task', ...ack?.error } });
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
    /** GET (or, with a body, POST) JSON from the HTTP API with the page's token; rejects with ApiError. */
    request(path, body) {
      return api(tokenRef.current, body === undefined ? 'GET' : 'POST', path, body);
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

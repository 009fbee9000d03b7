// The dashboard's state as a pure reducer: `reduce(state, action)` returns the next state and changes nothing else.
// No DOM, no timers, no module-level state: the page runs it with Preact's useReducer (live.js), and the tests run it
// in Node. Every action that depends on time carries `at` (ms since the epoch).
//
// Actions:
//   { type: 'status', status }                 connection state: 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'unauthorized'
//   { type: 'loops', snapshot }                GET /api/loops, read by asSnapshot()
//   { type: 'loops-error', message }
//   { type: 'stats', snapshot, at }            a `loop:stats` snapshot, read by asSnapshot()
//   { type: 'event', name, payload, at }       a relayed loop event
//   { type: 'task-add', task }                 a task this page submitted
//   { type: 'task-update', id, patch, at }     progress, settlement or a re-read of a task
//   { type: 'tasks-clear' }                    forget settled tasks

/** How many seconds of event-loop delay the chart keeps. */
export const HISTORY_SECONDS = 180;
/** Relayed events kept on the page (the total still counts them all). */
export const MAX_EVENTS = 60;
/** Task rows kept on the page. */
export const MAX_TASKS = 40;
/** Tasks with updates that overtook their row, and updates kept per such task. */
export const MAX_ORPHAN_TASKS = 100;
export const MAX_ORPHAN_UPDATES = 20;

const SETTLED = new Set(['fulfilled', 'rejected', 'cancelled']);

export const isSettled = (state) => SETTLED.has(state);

/** The state before anything is known. */
export const initialState = Object.freeze({
  status: 'connecting',
  loops: [],
  /** Exposed function names by loop, from GET /api/loops. */
  expose: {},
  main: undefined,
  loopsError: undefined,
  /** p99 event-loop delay per snapshot: times `t` (s) and one column per series. */
  history: { t: [], main: [], loops: {} },
  /**
   * Whether the next stats snapshot goes on the chart. The server only samples while someone watches, so the first
   * snapshot after (re)connecting covers an unknown stretch: it updates the cards but stays off the chart.
   */
  charting: false,
  /** Newest first, at most MAX_EVENTS; each with a `key` unique on the page. */
  events: [],
  eventTotal: 0,
  /** Newest first, at most MAX_TASKS. */
  tasks: [],
  /** Task updates that arrived before their task row, by task id. */
  orphans: {},
});

export function reduce(state, action) {
  switch (action.type) {
    case 'status':
      // Every (re)connection starts with a snapshot that stays off the chart.
      if (action.status === state.status && action.status !== 'connected') return state;
      return { ...state, status: action.status, charting: action.status === 'connected' ? false : state.charting };
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
        ...state, loops, main: action.snapshot.main ?? state.main, loopsError: undefined, charting: true,
        history: state.charting ? record(state.history, action.snapshot, action.at) : state.history,
      };
    }
    case 'event': {
      const event = { key: state.eventTotal, name: action.name, payload: action.payload, at: action.at };
      return { ...state, events: [event, ...state.events].slice(0, MAX_EVENTS), eventTotal: state.eventTotal + 1 };
    }
    case 'task-add': {
      let task = action.task;
      if (state.tasks.some((t) => t.id === task.id)) return state;
      for (const early of state.orphans[task.id] ?? []) task = merge(task, early.patch, early.at);
      const orphans = Object.fromEntries(Object.entries(state.orphans).filter(([id]) => id !== task.id));
      return { ...state, tasks: [task, ...state.tasks].slice(0, MAX_TASKS), orphans };
    }
    case 'task-update': {
      if (!state.tasks.some((t) => t.id === action.id)) {
        // Progress can overtake the submit acknowledgement; keep it until the task row exists.
        const known = action.id in state.orphans;
        const kept = !known && Object.keys(state.orphans).length >= MAX_ORPHAN_TASKS ? {} : state.orphans;
        const updates = [...(kept[action.id] ?? []), { patch: action.patch, at: action.at }].slice(-MAX_ORPHAN_UPDATES);
        return { ...state, orphans: { ...kept, [action.id]: updates } };
      }
      return { ...state, tasks: state.tasks.map((t) => (t.id === action.id ? merge(t, action.patch, action.at) : t)) };
    }
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
export function asSnapshot(payload) {
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

// Small pure helpers that turn server payloads into text for the page.

/** Milliseconds, readable at a glance: `0.42 ms`, `12.3 ms`, `1.20 s`. */
export function formatMs(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

// Made once: `toLocaleString` and `toLocaleTimeString` build a formatter on every call, about a hundred times the
// cost of using one, and the page formats every event row's time on each render.
const COUNT = new Intl.NumberFormat('en-US');
const CLOCK = new Intl.DateTimeFormat('en-GB', { timeStyle: 'medium', hourCycle: 'h23' });

/** A count with grouping: 12,345. */
export function formatCount(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '0';
  return COUNT.format(n);
}

/** Wall-clock time of day, to the second. */
export function formatClock(at) {
  return CLOCK.format(at);
}

/** A duration between two instants: `0.8 s`, `12 s`, `3 m 04 s`. */
export function formatDuration(ms) {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s`;
}

/** Compact JSON for one line, cut at `max` characters. */
export function preview(value, max = 160) {
  let text;
  if (value === undefined) return '';
  if (typeof value === 'string') text = value;
  else {
    try {
      text = JSON.stringify(value);
    } catch {
      text = String(value);
    }
  }
  text = text ?? String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The arguments of a call as the user would type them: `primes(5000000)`. */
export function signature(fn, args) {
  const inner = (args ?? []).map((a) => preview(typeof a === 'string' ? JSON.stringify(a) : a, 60)).join(', ');
  return `${fn}(${inner.length > 80 ? `${inner.slice(0, 79)}…` : inner})`;
}

const RATIO_KEYS = ['progress', 'done', 'current', 'completed', 'value', 'count'];

/**
 * The fraction done (0..1) a progress payload stands for, or null when it does not say.
 * Understands a bare number (0..1, or a percentage up to 100), `{ percent }`, and `{ progress | done | current | … , total }`
 * (the MCP progress notification shape among them).
 */
export function progressFraction(p) {
  if (typeof p === 'number' && Number.isFinite(p)) {
    if (p >= 0 && p <= 1) return p;
    if (p > 1 && p <= 100) return p / 100;
    return null;
  }
  if (p && typeof p === 'object') {
    if (typeof p.percent === 'number') return clamp(p.percent / 100);
    if (typeof p.fraction === 'number') return clamp(p.fraction);
    const key = RATIO_KEYS.find((k) => typeof p[k] === 'number');
    if (key && typeof p.total === 'number' && p.total > 0) return clamp(p[key] / p.total);
    if (key && p[key] >= 0 && p[key] <= 1) return p[key];
  }
  return null;
}

function clamp(x) {
  return Math.min(1, Math.max(0, x));
}

/** Extra words next to the percentage, when the payload carries them (`1.2M of 5M`, a message). */
export function progressDetail(p) {
  if (!p || typeof p !== 'object') return '';
  if (typeof p.message === 'string') return p.message;
  const key = RATIO_KEYS.find((k) => typeof p[k] === 'number');
  if (key && typeof p.total === 'number') return `${short(p[key])} of ${short(p.total)}`;
  return '';
}

/** 1234567 -> 1.2M. */
export function short(n) {
  if (Math.abs(n) >= 1e9) return `${+(n / 1e9).toFixed(1)}G`;
  if (Math.abs(n) >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (Math.abs(n) >= 1e4) return `${+(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n * 100) / 100);
}

/** A task's result as one line: MCP text content is shown as its text, anything else as compact JSON. */
export function describeValue(value) {
  if (value && typeof value === 'object' && Array.isArray(value.content)) {
    const texts = value.content.filter((c) => c && c.type === 'text').map((c) => c.text);
    if (texts.length > 0) return preview(texts.join(' '), 200);
  }
  const named = Array.isArray(value) ? value : Array.isArray(value?.tools) ? value.tools : null;
  if (named && named.length > 0 && named.every((t) => t && typeof t.name === 'string')) {
    const tools = !Array.isArray(value) || named.every((t) => 'inputSchema' in t);
    return preview(`${named.length} ${tools ? 'tools' : 'items'}: ${named.map((t) => t.name).join(', ')}`, 200);
  }
  if (typeof value === 'number') return formatCount(value);
  return preview(value, 200);
}

/** An error payload (`{ name, code, message }` or a string) as one line. */
export function describeError(error) {
  if (!error) return 'failed';
  if (typeof error === 'string') return error;
  const head = error.code ?? error.name;
  return head && error.message ? `${head}: ${error.message}` : (error.message ?? preview(error));
}

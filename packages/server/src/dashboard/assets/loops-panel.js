// One card per loop and pool (plus the server's own main thread): state, threads, task counters, delay.
import { html } from './html.js';
import { formatCount, formatMs } from './format.js';
import { loopDelay } from './live.js';

// The colour of a loop's state follows the server's one health model (SERVER.md), which each loop row carries as
// `health`: ok green, degraded (restarting: it heals by itself) amber, unhealthy (starting, closing, closed,
// crashed, failed, or failing its health checks) red.
const HEALTH_TONE = { ok: 'ok', degraded: 'warn', unhealthy: 'bad' };

export function LoopsPanel({ loops, main, error, colors }) {
  return html`
    <section class="loops" data-testid="loops" aria-label="Loops and pools">
      <${MainCard} delay=${main} color=${colors.main} />
      ${loops.map((loop) => html`<${LoopCard} key=${loop.name} loop=${loop} color=${colors[loop.name]} />`)}
      ${loops.length === 0 && html`
        <div class="card loop-card empty">${error ? `Could not load loops: ${error}` : 'Waiting for the server…'}</div>`}
    </section>`;
}

function MainCard({ delay, color }) {
  return html`
    <article class="card loop-card main-card" data-testid="main-card">
      <header class="loop-head">
        <span class="swatch" style=${{ background: color }}></span>
        <h3>main</h3>
        <span class="kind">server thread</span>
      </header>
      <p class="loop-sub">HTTP, Socket.IO and the relay run here; background work never should.</p>
      <${Delay} delay=${delay} testid="main-delay" />
    </article>`;
}

function LoopCard({ loop, color }) {
  const tone = HEALTH_TONE[loop.health] ?? 'muted';
  const label = loop.unhealthy && loop.state === 'ready' ? 'ready · health checks failing' : loop.state;
  const threads = loop.threads ?? 1;
  const kind = loop.kind === 'pool' ? `pool · ${threads} thread${threads === 1 ? '' : 's'}` : 'loop';
  return html`
    <article class="card loop-card" data-testid="loop-card" data-loop=${loop.name} data-state=${loop.state} data-health=${loop.health}>
      <header class="loop-head">
        <span class="swatch" style=${{ background: color }}></span>
        <h3>${loop.name}</h3>
        <span class="kind">${kind}</span>
        <span class=${`state-pill tone-${tone}`} data-testid="loop-state" title=${`health: ${loop.health ?? 'unknown'}`}>${label}</span>
      </header>
      <p class="loop-sub">
        ${(loop.expose ?? []).length > 0
          ? html`exposes ${loop.expose.map((fn, i) => html`${i > 0 ? ', ' : ''}<code>${fn}</code>`)}`
          : html`<span class="muted">exposes nothing over HTTP</span>`}
      </p>
      <dl class="counters">
        <${Counter} label="running" value=${loop.running} tone=${loop.running > 0 ? 'info' : ''} testid="loop-running" />
        <${Counter} label="queued" value=${loop.pending} testid="loop-pending" />
        <${Counter} label="done" value=${loop.completed} testid="loop-completed" />
        <${Counter} label="failed" value=${loop.failed} tone=${loop.failed > 0 ? 'bad' : ''} testid="loop-failed" />
        <${Counter} label="cancelled" value=${loop.cancelled} testid="loop-cancelled" />
      </dl>
      <${Delay} delay=${loopDelay(loop)} testid="loop-delay" />
    </article>`;
}

function Counter({ label, value, tone, testid }) {
  return html`
    <div class=${`counter ${tone ? `tone-${tone}` : ''}`}>
      <dt>${label}</dt>
      <dd data-testid=${testid}>${formatCount(value ?? 0)}</dd>
    </div>`;
}

function Delay({ delay, testid }) {
  if (!delay) return html`<p class="delay muted">event-loop delay not reported</p>`;
  return html`
    <p class="delay" data-testid=${testid}>
      <span class="delay-label">event-loop delay</span>
      <span>p50 <b>${formatMs(delay.p50)}</b></span>
      <span>p99 <b>${formatMs(delay.p99)}</b></span>
      <span>max <b>${formatMs(delay.max)}</b></span>
    </p>`;
}

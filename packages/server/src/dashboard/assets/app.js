// The sideloop dashboard: health, live loops and pools, queue sources, the cluster's nodes and queues, event-loop delay, relayed events, tasks, and
// forms to run a function and to publish a message.
// Plain ES modules (Preact + htm through the page's import map); no build step.
import { render } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { html } from './html.js';
import { useLive } from './live.js';
import { LoopsPanel } from './loops-panel.js';
import { DelayChart } from './delay-chart.js';
import { EventsPanel } from './events-panel.js';
import { TasksPanel } from './tasks-panel.js';
import { RunForm } from './run-form.js';
import { HealthBanner } from './health-banner.js';
import { SourcesPanel } from './sources-panel.js';
import { ClusterPanel } from './cluster-panel.js';
import { usePoll } from './use-poll.js';

const MAIN_COLOR = '#5b6cf0';
const PALETTE = ['#1fa67a', '#e08a2e', '#c05bd6', '#2f9fd8', '#d9536f', '#8d9a2a', '#7a6cf0'];

const STATUS = {
  connecting: { label: 'Connecting…', tone: 'info' },
  connected: { label: 'Live', tone: 'ok' },
  reconnecting: { label: 'Reconnecting…', tone: 'warn' },
  offline: { label: 'Offline', tone: 'bad' },
  unauthorized: { label: 'Token needed', tone: 'bad' },
};

function useColors(names) {
  const key = names.join('\u0000');
  return useMemo(() => {
    const colors = { main: MAIN_COLOR };
    names.forEach((name, i) => { colors[name] = PALETTE[i % PALETTE.length]; });
    return colors;
  }, [key]);
}

function ConnectionStatus({ status }) {
  const s = STATUS[status] ?? STATUS.connecting;
  return html`
    <span class=${`connection tone-${s.tone}`} data-testid="connection-status" data-state=${status} role="status">
      <span class="dot"></span>${s.label}
    </span>`;
}

function TokenBanner({ onToken }) {
  const [value, setValue] = useState('');
  return html`
    <form class="card token-banner" data-testid="token-form" onSubmit=${(e) => { e.preventDefault(); onToken(value.trim()); }}>
      <p>This server needs an access token (<code>--token</code> or <code>SIDELOOP_TOKEN</code>).</p>
      <input type="password" placeholder="token" value=${value} onInput=${(e) => setValue(e.currentTarget.value)} />
      <button type="submit" class="primary">Connect</button>
    </form>`;
}

function App() {
  const { state, actions } = useLive();
  const names = [...new Set([...state.loops.map((l) => l.name), ...Object.keys(state.history.loops)])];
  const colors = useColors(names);
  const pools = state.loops.filter((l) => l.kind === 'pool').length;
  const health = usePoll(actions.request, '/api/health', 2000);
  const sources = usePoll(actions.request, '/api/sources', 1000);
  const cluster = usePoll(actions.request, '/api/cluster', 2000);
  return html`
    <div class="page">
      <header class="topbar">
        <div class="brand">
          <svg class="logo" viewBox="0 0 32 32" aria-hidden="true">
            <circle cx="16" cy="16" r="10.5" fill="none" stroke=${MAIN_COLOR} stroke-width="4.5" />
            <circle cx="25" cy="8.5" r="4" fill=${PALETTE[0]} />
          </svg>
          <div>
            <h1>sideloop</h1>
            <p class="tagline">${state.loops.length - pools} loop${state.loops.length - pools === 1 ? '' : 's'} · ${pools} pool${pools === 1 ? '' : 's'} · ${location.host}</p>
          </div>
        </div>
        <${ConnectionStatus} status=${state.status} />
      </header>
      ${state.status === 'unauthorized' && html`<${TokenBanner} onToken=${actions.setToken} />`}
      <${HealthBanner} health=${health.data} />
      <${LoopsPanel} loops=${state.loops} main=${state.main} error=${state.loopsError} colors=${colors} />
      <${SourcesPanel} sources=${sources.data?.sources} error=${sources.error} request=${actions.request} />
      <${ClusterPanel} cluster=${cluster.data} error=${cluster.error} />
      <div class="grid">
        <${DelayChart} history=${state.history} colors=${colors} />
        <${RunForm} loops=${state.loops} onRun=${actions.submit} />
        <${TasksPanel} tasks=${state.tasks} onCancel=${(id) => { void actions.cancel(id).catch(() => {}); }} onClear=${actions.clearFinished} />
        <${EventsPanel} events=${state.events} total=${state.eventTotal} />
      </div>
      <footer class="footer">
        <a href="/api/loops">/api/loops</a> · <a href="/api/sources">/api/sources</a> · <a href="/metrics">/metrics</a> · <a href="/api/health">/api/health</a> · <a href="/api/cluster">/api/cluster</a>
      </footer>
    </div>`;
}

render(html`<${App} />`, document.getElementById('app'));

// One card per queue source (GET /api/sources): connection state, rates, in flight, retried, dead-lettered, backlog,
// and the last error; plus a form that publishes a message to a source whose config says `publish: true`.
import { useState } from 'preact/hooks';
import { html } from './html.js';
import { formatCount } from './format.js';

const STATE_TONE = {
  connected: 'ok', connecting: 'info', reconnecting: 'warn', retrying: 'warn', restarting: 'warn', failed: 'bad', stopped: 'muted',
};

export function SourcesPanel({ sources, error, request }) {
  if (!sources || sources.length === 0) return null;
  const publishable = sources.filter((s) => s.publish);
  return html`
    <section class="sources" data-testid="sources" aria-label="Queue sources">
      ${sources.map((source) => html`<${SourceCard} key=${source.name} source=${source} />`)}
      ${publishable.length > 0 && html`<${PublishForm} sources=${publishable} request=${request} />`}
      ${error && html`<p class="form-note tone-bad">Could not read the sources: ${error}</p>`}
    </section>`;
}

function rate(n) {
  return n >= 10 ? Math.round(n).toString() : n.toFixed(1);
}

function SourceCard({ source }) {
  const tone = STATE_TONE[source.state] ?? 'muted';
  return html`
    <article class="card source-card" data-testid="source-card" data-source=${source.name} data-state=${source.state}>
      <header class="loop-head">
        <h3>${source.name}</h3>
        <span class="kind">${source.broker}${source.queue ? html` · <code>${source.queue}</code>` : ''} · on ${source.loop}</span>
        <span class=${`state-pill tone-${tone}`} data-testid="source-state">${source.state}</span>
      </header>
      <p class="loop-sub">
        <b data-testid="source-rate">${rate(source.rate?.acked ?? 0)}</b> acked/s ·
        ${' '}<b>${rate(source.rate?.received ?? 0)}</b> received/s
      </p>
      <dl class="counters">
        <${Counter} label="acked" value=${source.acked} testid="source-acked" />
        <${Counter} label="in flight" value=${source.inFlight} tone=${source.inFlight > 0 ? 'info' : ''} testid="source-in-flight" />
        <${Counter} label="retried" value=${source.retried} testid="source-retried" />
        <${Counter} label="dead" value=${source.deadLettered} tone=${source.deadLettered > 0 ? 'bad' : ''} testid="source-dead" />
        <${Counter} label="backlog" value=${source.backlog} testid="source-backlog" />
      </dl>
      ${source.error && html`
        <p class=${`form-note tone-${tone === 'ok' ? 'muted' : tone}`} data-testid="source-error">
          ${source.error.code ? html`<code>${source.error.code}</code> ` : ''}${source.error.message}
        </p>`}
    </article>`;
}

function Counter({ label, value, tone, testid }) {
  return html`
    <div class=${`counter ${tone ? `tone-${tone}` : ''}`}>
      <dt>${label}</dt>
      <dd data-testid=${testid}>${value === null || value === undefined ? '–' : formatCount(value)}</dd>
    </div>`;
}

const EXAMPLE = '{ "kind": "manual", "text": "hello from the dashboard" }';

function PublishForm({ sources, request }) {
  const [name, setName] = useState('');
  const [text, setText] = useState(EXAMPLE);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState(null);
  const source = sources.find((s) => s.name === name) ?? sources[0];

  let parseError = null;
  let body;
  try {
    body = JSON.parse(text);
  } catch (err) {
    parseError = `Not valid JSON: ${err.message}`;
  }

  async function submit(e) {
    e.preventDefault();
    if (parseError) return;
    setBusy(true);
    setMessage(null);
    try {
      const { id } = await request(`/api/sources/${encodeURIComponent(source.name)}/messages`, { body });
      setMessage({ tone: 'ok', text: `Published to ${source.name} as ${id}.` });
    } catch (err) {
      setMessage({ tone: 'bad', text: err.code ? `${err.code}: ${err.message}` : err.message });
    } finally {
      setBusy(false);
    }
  }

  return html`
    <form class="card publish-card" data-testid="publish-form" onSubmit=${submit}>
      <header class="card-head">
        <h2>Publish a message</h2>
        <span class="hint">through the broker, like any producer</span>
      </header>
      ${sources.length > 1 && html`
        <label class="field">
          <span>Source</span>
          <select data-testid="publish-source" value=${source.name} onChange=${(e) => setName(e.currentTarget.value)}>
            ${sources.map((s) => html`<option key=${s.name} value=${s.name}>${s.name} (${s.broker})</option>`)}
          </select>
        </label>`}
      <label class="field">
        <span>Body <small>(JSON)</small></span>
        <textarea data-testid="publish-body" rows="2" spellcheck="false" value=${text}
          aria-invalid=${parseError ? 'true' : 'false'} onInput=${(e) => setText(e.currentTarget.value)}></textarea>
      </label>
      <div class="run-actions">
        <code class="run-preview">${source.name} ← ${parseError ? '…' : JSON.stringify(body)}</code>
        <button type="submit" class="primary" data-testid="publish-submit" disabled=${busy || !!parseError}>
          ${busy ? 'Publishing…' : 'Publish'}
        </button>
      </div>
      ${(parseError || message) && html`
        <p class=${`form-note tone-${parseError ? 'bad' : message.tone}`} data-testid="publish-message">${parseError ?? message.text}</p>`}
    </form>`;
}

// Runs an exposed function: pick a loop or pool, one of its exposed functions, type JSON arguments, press Run.
import { useState } from 'preact/hooks';
import { html } from './html.js';

/** Argument examples for the demo's functions; anything else starts from []. */
const EXAMPLES = {
  primes: '[5000000]',
  callTool: '["echo", { "message": "hi" }]',
  listTools: '[]',
};

export function RunForm({ loops, onRun }) {
  const runnable = loops.filter((l) => (l.expose ?? []).length > 0);
  const [loopName, setLoopName] = useState('');
  const [fn, setFn] = useState('');
  /** What the user typed; null shows the chosen function's example. */
  const [typed, setTyped] = useState(null);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState(null);

  const loop = runnable.find((l) => l.name === loopName) ?? runnable[0];
  const fns = loop?.expose ?? [];
  const fnName = fns.includes(fn) ? fn : fns[0] ?? '';

  const argsText = typed ?? EXAMPLES[fnName] ?? '[]';

  let parseError = null;
  let args;
  try {
    args = JSON.parse(argsText || '[]');
    if (!Array.isArray(args)) parseError = 'Arguments are a JSON array, for example [5000000].';
  } catch (err) {
    parseError = `Not valid JSON: ${err.message}`;
  }

  async function submit(e) {
    e.preventDefault();
    if (!loop || !fnName || parseError) return;
    setBusy(true);
    setMessage(null);
    try {
      const id = await onRun(loop.name, fnName, args);
      setMessage({ tone: 'ok', text: `Started ${fnName} as task ${id}.` });
    } catch (err) {
      setMessage({ tone: 'bad', text: err.code ? `${err.code}: ${err.message}` : err.message });
    } finally {
      setBusy(false);
    }
  }

  if (runnable.length === 0) {
    return html`
      <section class="card run-card" data-testid="run-form">
        <header class="card-head"><h2>Run a function</h2></header>
        <p class="empty-state">No loop or pool exposes a function yet.</p>
      </section>`;
  }

  return html`
    <section class="card run-card">
      <header class="card-head">
        <h2>Run a function</h2>
        <span class="hint">only exposed functions</span>
      </header>
      <form data-testid="run-form" onSubmit=${submit}>
        <div class="field-row">
          <label class="field">
            <span>Loop or pool</span>
            <select data-testid="run-loop" value=${loop.name}
              onChange=${(e) => { setLoopName(e.currentTarget.value); setFn(''); setTyped(null); }}>
              ${runnable.map((l) => html`<option key=${l.name} value=${l.name}>${l.name} (${l.kind ?? 'loop'})</option>`)}
            </select>
          </label>
          <label class="field">
            <span>Function</span>
            <select data-testid="run-fn" value=${fnName} onChange=${(e) => { setFn(e.currentTarget.value); setTyped(null); }}>
              ${fns.map((name) => html`<option key=${name} value=${name}>${name}</option>`)}
            </select>
          </label>
        </div>
        <label class="field">
          <span>Arguments <small>(JSON array)</small></span>
          <textarea data-testid="run-args" rows="3" spellcheck="false" value=${argsText}
            aria-invalid=${parseError ? 'true' : 'false'}
            onInput=${(e) => setTyped(e.currentTarget.value)}></textarea>
        </label>
        <div class="run-actions">
          <code class="run-preview">${loop.name}.${fnName}(${parseError ? '…' : args.map((a) => JSON.stringify(a)).join(', ')})</code>
          <button type="submit" class="primary" data-testid="run-submit" disabled=${busy || !!parseError}>
            ${busy ? 'Starting…' : 'Run'}
          </button>
        </div>
        ${parseError && html`<p class="form-note tone-bad" data-testid="run-error">${parseError}</p>`}
        ${!parseError && message && html`
          <p class=${`form-note tone-${message.tone}`} data-testid=${message.tone === 'bad' ? 'run-error' : 'run-message'}>${message.text}</p>`}
      </form>
    </section>`;
}

// The tasks this page ran: call, loop, state, a progress bar, the result or error, and cancel while it runs.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { describeError, describeValue, formatCount, formatDuration, preview, progressDetail, progressFraction, signature } from './format.js';
import { isSettled } from './live.js';

const STATE_LABEL = { pending: 'queued', running: 'running', fulfilled: 'done', rejected: 'failed', cancelled: 'cancelled' };
const STATE_TONE = { pending: 'muted', running: 'info', fulfilled: 'ok', rejected: 'bad', cancelled: 'warn' };

function useTicker(active) {
  const [, tick] = useState(0);
  useEffect(() => {
    if (!active) return undefined;
    const timer = setInterval(() => tick((n) => n + 1), 250);
    return () => clearInterval(timer);
  }, [active]);
}

export function TasksPanel({ tasks, onCancel, onClear }) {
  const running = tasks.filter((t) => !isSettled(t.state)).length;
  useTicker(running > 0);
  return html`
    <section class="card tasks-card" data-testid="tasks">
      <header class="card-head">
        <h2>Tasks</h2>
        <span class="hint">${running > 0 ? `${running} in flight` : 'submitted from this page'}</span>
        ${tasks.length > running && html`
          <button type="button" class="link-button" data-testid="tasks-clear" onClick=${onClear}>Clear finished</button>`}
      </header>
      ${tasks.length === 0
        ? html`<p class="empty-state">Nothing run yet. Pick a function on the right and press Run.</p>`
        : html`
          <ol class="task-list" data-testid="tasks-list">
            ${tasks.map((t) => html`<${TaskRow} key=${t.id} task=${t} onCancel=${onCancel} />`)}
          </ol>`}
    </section>`;
}

function TaskRow({ task, onCancel }) {
  const settled = isSettled(task.state);
  const fraction = task.state === 'fulfilled' ? 1 : progressFraction(task.progress);
  const percent = fraction === null ? null : Math.round(fraction * 100);
  const detail = settled ? '' : progressDetail(task.progress);
  const elapsed = (task.settledAt ?? Date.now()) - task.submittedAt;
  const tone = STATE_TONE[task.state] ?? 'muted';
  const unknownProgress = !settled && percent === null && task.progress !== undefined ? preview(task.progress, 60) : '';
  return html`
    <li class=${`task tone-${tone}`} data-testid="task-item" data-task-id=${task.id} data-state=${task.state}>
      <div class="task-line">
        <code class="task-call" title=${signature(task.fn, task.args)}>${signature(task.fn, task.args)}</code>
        <span class="task-loop">on ${task.loop}</span>
        <span class="task-spacer"></span>
        <span class="task-time">${formatDuration(elapsed)}</span>
        <span class=${`state-pill tone-${tone}`} data-testid="task-state">${STATE_LABEL[task.state] ?? task.state}</span>
        ${!settled && html`
          <button type="button" class="cancel" data-testid="task-cancel" disabled=${task.cancelling}
            onClick=${() => onCancel(task.id)}>${task.cancelling ? 'Cancelling…' : 'Cancel'}</button>`}
      </div>
      <div class="progress-row">
        <div class=${`progress ${percent === null && !settled ? 'indeterminate' : ''}`} data-testid="task-progress"
          role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${percent ?? undefined}
          aria-label=${`progress of ${task.fn}`}>
          <div class="progress-fill" style=${{ width: `${percent ?? (settled ? 100 : 0)}%` }}></div>
        </div>
        <span class="progress-text" data-testid="task-percent">
          ${percent === null ? (settled ? '' : unknownProgress || '…') : `${percent}%`}${detail ? ` · ${detail}` : ''}
        </span>
      </div>
      ${task.state === 'fulfilled' && task.valueOmitted && html`
        <p class="task-result" data-testid="task-result">→ a value of ${formatCount(task.valueOmitted.bytes)} bytes, too large to relay</p>`}
      ${task.state === 'fulfilled' && !task.valueOmitted && html`
        <p class="task-result" data-testid="task-result" title=${preview(task.value, 2000)}>→ ${describeValue(task.value)}</p>`}
      ${(task.state === 'rejected' || task.state === 'cancelled') && task.error && html`
        <p class=${`task-result ${task.state === 'rejected' ? 'error' : ''}`} data-testid="task-error">${describeError(task.error)}</p>`}
    </li>`;
}

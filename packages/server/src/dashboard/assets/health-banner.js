// The server's health (GET /api/health, the health model of docs/server.md): a strip under the top bar, green when
// ok, amber when degraded (a loop restarting, a source reconnecting), red when unhealthy, with the reasons.
import { html } from './html.js';

const TONE = { ok: 'ok', degraded: 'warn', unhealthy: 'bad' };

export function HealthBanner({ health }) {
  if (!health?.status) return null;
  const tone = TONE[health.status] ?? 'muted';
  const reasons = health.reasons ?? [];
  return html`
    <section class=${`card health-banner tone-${tone}`} data-testid="health" data-status=${health.status} role="status">
      <span class="dot"></span>
      <b>${health.status === 'ok' ? 'Healthy' : health.status === 'degraded' ? 'Degraded' : 'Unhealthy'}</b>
      ${reasons.length > 0 && html`
        <ul class="health-reasons">${reasons.map((r) => html`<li key=${r} data-testid="health-reason">${r}</li>`)}</ul>`}
    </section>`;
}

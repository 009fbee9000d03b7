// The relayed loop events (for the demo, `item_added` from the feed service), newest first, bounded.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { formatClock, formatCount, preview } from './format.js';

/** The words worth showing first from an event payload: its text, title or name if it has one. */
function headline(payload) {
  const source = payload?.item && typeof payload.item === 'object' ? payload.item : payload;
  if (typeof source === 'string') return source;
  for (const key of ['text', 'title', 'message', 'name', 'body']) {
    if (source && typeof source[key] === 'string') return source[key];
  }
  return undefined;
}

/** Events per minute over the last minute (or since the page opened, scaled), sampled every few seconds. */
function useRate(total) {
  const samples = useRef([{ at: Date.now(), total: 0 }]);
  const [, tick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => tick((n) => n + 1), 3000);
    return () => clearInterval(timer);
  }, []);
  const now = Date.now();
  const list = samples.current;
  if (now - list[list.length - 1].at >= 2500) list.push({ at: now, total });
  while (list.length > 2 && list[1].at <= now - 60_000) list.shift();
  const first = list[0];
  const span = (now - first.at) / 60_000;
  return span < 0.05 ? 0 : Math.round((total - first.total) / Math.min(1, span));
}

export function EventsPanel({ events, total }) {
  const perMinute = useRate(total);
  return html`
    <section class="card events-card" data-testid="events">
      <header class="card-head">
        <h2>Events</h2>
        <span class="hint" data-testid="events-total">${formatCount(total)} received · ${perMinute}/min</span>
      </header>
      ${events.length === 0
        ? html`<p class="empty-state">No events yet. Relayed loop events appear here as they arrive.</p>`
        : html`
          <ol class="event-list" data-testid="events-list">
            ${events.map((e) => html`<${EventRow} key=${e.key} event=${e} />`)}
          </ol>`}
    </section>`;
}

function EventRow({ event }) {
  const title = headline(event.payload);
  const body = preview(event.payload, 240);
  return html`
    <li class="event" data-testid="event-item" data-event=${event.name}>
      <time class="event-time">${formatClock(event.at)}</time>
      <span class="event-name">${event.name}</span>
      <span class="event-body" title=${body}>
        ${title !== undefined && html`<span class="event-title">${title}</span>`}
        <code class="event-json">${body}</code>
      </span>
    </li>`;
}

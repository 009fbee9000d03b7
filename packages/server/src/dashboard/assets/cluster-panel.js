// The cluster (GET /api/cluster, docs/cluster.md), when the server is a node of one: each node with whether it is
// alive, when it last wrote its heartbeat and what it serves, and each loop's durable queue. Nothing on a server
// that is not in a cluster (the API answers no nodes there).
import { html } from './html.js';
import { formatCount, formatDuration } from './format.js';

const QUEUE_COLUMNS = ['pending', 'running', 'completed', 'failed', 'delayed'];

export function ClusterPanel({ cluster, error }) {
  if (!cluster?.nodes?.length) return null;
  const now = Date.now();
  return html`
    <section class="card cluster-card" data-testid="cluster" aria-label="Cluster">
      <header class="card-head">
        <h2>Cluster</h2>
        <span class="hint">${cluster.nodes.filter((n) => n.alive).length} of ${cluster.nodes.length} nodes alive · this is <b>${cluster.node}</b></span>
      </header>
      <ul class="cluster-nodes">
        ${cluster.nodes.map((node) => html`
          <li key=${node.name} class="cluster-node" data-testid="cluster-node" data-node=${node.name} data-alive=${node.alive ? 'true' : 'false'}>
            <span class=${`state-pill tone-${node.alive ? 'ok' : 'bad'}`}>${node.alive ? 'alive' : 'silent'}</span>
            <b>${node.name}</b>${node.name === cluster.node ? html` <small>(this node)</small>` : ''}
            <span class="kind" data-testid="cluster-node-seen">heartbeat ${formatDuration(Math.max(0, now - node.lastSeen))} ago</span>
            <span class="kind" data-testid="cluster-node-serves">${node.serves.length > 0 ? `serves ${node.serves.join(', ')}` : 'serves nothing (submits only)'}</span>
          </li>`)}
      </ul>
      ${cluster.queues.length > 0 && html`
        <table class="cluster-queues">
          <thead><tr><th>durable queue</th>${QUEUE_COLUMNS.map((c) => html`<th key=${c}>${c}</th>`)}</tr></thead>
          <tbody>
            ${cluster.queues.map((q) => html`
              <tr key=${q.loop} data-testid="cluster-queue" data-loop=${q.loop}>
                <td><code>${q.loop}</code></td>
                ${QUEUE_COLUMNS.map((c) => html`<td key=${c} data-testid=${`cluster-queue-${c}`}>${formatCount(q[c])}</td>`)}
              </tr>`)}
          </tbody>
        </table>`}
      ${error && html`<p class="form-note tone-bad">Could not read the cluster: ${error}</p>`}
    </section>`;
}

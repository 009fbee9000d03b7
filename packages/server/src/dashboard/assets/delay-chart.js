// Live uPlot chart of event-loop delay p99: the server's main thread and every loop, one point per stats snapshot.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { html } from './html.js';
import { formatClock, formatMs } from './format.js';
import { HISTORY_SECONDS } from './live.js';

const dark = matchMedia('(prefers-color-scheme: dark)');

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function useColorScheme() {
  const [isDark, setDark] = useState(dark.matches);
  useEffect(() => {
    const onChange = () => setDark(dark.matches);
    dark.addEventListener('change', onChange);
    return () => dark.removeEventListener('change', onChange);
  }, []);
  return isDark;
}

function options(width, names, colors) {
  const axis = cssVar('--muted');
  const grid = cssVar('--chart-grid');
  const font = `11px ${cssVar('--font-sans')}`;
  return {
    width,
    height: 220,
    legend: { show: false },
    cursor: { points: { size: 6 }, drag: { x: false, y: false } },
    padding: [12, 28, 0, 0],
    scales: {
      x: { time: true },
      y: { range: (_u, _min, max) => [0, Math.max(1, (max ?? 1) * 1.2)] },
    },
    axes: [
      {
        stroke: axis, font, space: 70,
        incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300],
        grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 },
        values: (_u, splits) => splits.map((t) => formatClock(t * 1000)),
      },
      {
        stroke: axis, font, size: 56,
        grid: { stroke: grid, width: 1 }, ticks: { show: false },
        values: (_u, splits) => splits.map((v) => `${+v.toFixed(2)} ms`),
      },
    ],
    series: [
      {},
      { label: 'main', stroke: colors.main, width: 2.25, points: { show: false } },
      ...names.map((name) => ({ label: name, stroke: colors[name], width: 1.5, points: { show: false } })),
    ],
  };
}

export function DelayChart({ history, colors }) {
  const host = useRef(null);
  const plot = useRef(null);
  const isDark = useColorScheme();
  const names = Object.keys(history.loops);
  const shape = names.join('\u0000');
  const data = [history.t, history.main, ...names.map((n) => history.loops[n])];

  // (Re)create the chart when the set of series or the colour scheme changes.
  useEffect(() => {
    const el = host.current;
    const u = new uPlot(options(el.clientWidth || 600, names, colors), data, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: el.clientWidth, height: 220 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [shape, isDark]);

  useEffect(() => {
    const u = plot.current;
    if (!u || history.t.length === 0) return;
    u.setData(data);
  }, [history]);

  const lastOf = (arr) => arr[arr.length - 1];
  return html`
    <section class="card chart-card" data-testid="delay-chart">
      <header class="card-head">
        <h2>Event-loop delay</h2>
        <span class="hint">p99 per thread, last ${HISTORY_SECONDS / 60} minutes</span>
      </header>
      <ul class="legend" data-testid="delay-legend">
        <li><span class="swatch" style=${{ background: colors.main }}></span>main <b>${formatMs(lastOf(history.main))}</b></li>
        ${names.map((n) => html`
          <li key=${n}><span class="swatch" style=${{ background: colors[n] }}></span>${n} <b>${formatMs(lastOf(history.loops[n]))}</b></li>`)}
      </ul>
      <div class="chart" ref=${host}></div>
      ${history.t.length < 2 && html`<p class="chart-empty">Collecting the first samples…</p>`}
    </section>`;
}

// Turns scenario results into verdicts, a console table and the markdown summary (ratios first, absolute figures
// second).

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function metricOf(row, metric) {
  return row === undefined || row.error !== undefined ? Number.NaN : row[metric];
}

/**
 * The ratio of a row to the scenario's anchor on the target's metric (always value / anchor value): the median of
 * the per-run ratios when the rows were combined from several runs.
 */
export function ratioTo(rows, target, row) {
  if (row.ratio !== undefined) return row.error === undefined ? row.ratio : Number.NaN;
  const anchor = rows.find((candidate) => candidate.label === target.anchor);
  return metricOf(row, target.metric) / metricOf(anchor, target.metric);
}

/**
 * @returns {{ ratio: number, pass: boolean | undefined, text: string }}
 */
export function verdictOf(scenario) {
  const { target, rows } = scenario;
  if (scenario.error !== undefined) return { ratio: Number.NaN, pass: undefined, text: 'scenario failed' };
  const subject = rows.find((row) => row.label === target.subject);
  const anchor = rows.find((row) => row.label === target.anchor);
  if (subject?.error !== undefined) return { ratio: Number.NaN, pass: undefined, text: `${target.subject} failed` };
  if (anchor?.error !== undefined) return { ratio: Number.NaN, pass: undefined, text: `${target.anchor} failed` };
  if (subject === undefined || anchor === undefined) return { ratio: Number.NaN, pass: undefined, text: 'no figures' };
  const ratio = ratioTo(rows, target, subject);
  if (!Number.isFinite(ratio)) return { ratio, pass: undefined, text: 'no figures' };
  const pass = target.better === 'lower' ? ratio <= target.limit : ratio >= target.limit;
  return { ratio, pass, text: pass ? 'met' : 'missed' };
}

export function formatRatio(ratio) {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : '–';
}

/** Like formatRatio, with a third decimal when two would hide which side of the limit the ratio fell. */
export function formatVerdictRatio(ratio, target) {
  return Number.isFinite(ratio) && Math.abs(ratio - target.limit) < 0.005 ? `${ratio.toFixed(3)}x` : formatRatio(ratio);
}

export function formatLimit(target) {
  return `${target.better === 'lower' ? '<=' : '>='} ${target.limit.toFixed(2)}x`;
}

function formatMicros(value) {
  if (!Number.isFinite(value)) return '–';
  return value < 100 ? value.toFixed(1) : integer.format(value);
}

function formatRate(value) {
  return Number.isFinite(value) ? integer.format(value) : '–';
}

/** Header and cells of a scenario's table of absolute figures. */
export function tableOf(scenario) {
  const { rows, target } = scenario;
  const isRate = rows.some((row) => row.unit === 'items/s');
  const ratioHeader = `${target.metric} vs ${target.anchor}`;
  if (isRate) {
    return {
      header: ['contender', 'items/s (median)', 'min', 'max', 'median by run', 'rounds x items', ratioHeader],
      cells: rows.map((row) => [
        row.label,
        row.error === undefined ? formatRate(row.rate) : `FAILED`,
        formatRate(row.rateMin),
        formatRate(row.rateMax),
        (row.perRun ?? []).map((run) => `${formatRate(run.rate / 1000)}k`).join(' / '),
        `${row.rounds} x ${integer.format(row.itemsPerRound)}`,
        formatRatio(ratioTo(rows, target, row)),
      ]),
    };
  }
  return {
    header: ['contender', 'p50 µs', 'p99 µs', 'mean µs', 'min µs', 'p50 by run', 'samples', ratioHeader],
    cells: rows.map((row) => [
      row.label,
      row.error === undefined ? formatMicros(row.p50) : 'FAILED',
      formatMicros(row.p99),
      formatMicros(row.mean),
      formatMicros(row.min),
      (row.perRun ?? []).map((run) => formatMicros(run.p50)).join(' / '),
      integer.format(row.n),
      formatRatio(ratioTo(rows, target, row)),
    ]),
  };
}

function pad(cells, widths) {
  return cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
}

/** Plain-text block printed after each scenario. */
export function consoleBlock(scenario) {
  const lines = [`\n${scenario.name}: ${scenario.description}`];
  if (scenario.error !== undefined) {
    lines.push(`  FAILED: ${scenario.error}`);
    return lines.join('\n');
  }
  const { header, cells } = tableOf(scenario);
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((row) => row[i].length)));
  lines.push(`  ${pad(header, widths)}`, `  ${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const row of cells) lines.push(`  ${pad(row, widths)}`);
  for (const row of scenario.rows) if (row.error !== undefined) lines.push(`  ${row.label}: ${row.error}`);
  for (const note of scenario.notes ?? []) lines.push(`  note: ${note}`);
  const verdict = verdictOf(scenario);
  lines.push(`  target: ${scenario.target.text} -> ${formatVerdictRatio(verdict.ratio, scenario.target)} (${formatLimit(scenario.target)}): ${verdict.text}`);
  return lines.join('\n');
}

/** @param {number} textColumns how many leading columns are text (left-aligned); the rest are figures */
function markdownTable(header, cells, textColumns = 1) {
  const align = header.map((_, i) => (i < textColumns ? '---' : '---:'));
  return [header, align, ...cells].map((row) => `| ${row.join(' | ')} |`).join('\n');
}

/** bench/results/README.md */
export function markdownSummary(results) {
  const { machine } = results;
  const out = [
    '# sideloop benchmark results',
    '',
    'Generated by `npm run bench` (bench/run.js); the raw figures are in `latest.json`. Every scenario measures',
    'sideloop and its anchors in the same process run, interleaved round by round, so compare the ratios: absolute',
    'figures drift by a third from run to run on small machines.',
    '',
    `Machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, ${machine.platform}, Node ${machine.node}` +
      ` (load average at start ${machine.loadAverage.join(' / ')}). Measured ${machine.date}` +
      `${machine.commit ? ` at commit ${machine.commit}` : ''}; Piscina ${machine.anchors.piscina}, synckit ${machine.anchors.synckit}.` +
      ` Each scenario ran in ${machine.runsPerScenario === 1 ? 'one fresh process' : `${machine.runsPerScenario} fresh processes`}` +
      `${machine.pinnedToOneCpu ? ' pinned to one CPU' : ''}; figures are medians over the runs, ratios the medians of the` +
      ' ratios within each run.',
    '',
    '## Ratios against the targets',
    '',
  ];
  const ratioRows = results.scenarios.map((scenario) => {
    const verdict = verdictOf(scenario);
    return [
      `\`${scenario.name}\``,
      scenario.target.text,
      formatVerdictRatio(verdict.ratio, scenario.target),
      formatLimit(scenario.target),
      verdict.pass === true ? 'met' : verdict.pass === false ? '**missed**' : `**${verdict.text}**`,
    ];
  });
  out.push(markdownTable(['scenario', 'target', 'measured', 'needed', 'verdict'], ratioRows, 2), '');
  out.push('Ratios are sideloop / anchor on the target metric: lower is better for latencies, higher for rates.', '');
  out.push('## Absolute figures', '');
  for (const scenario of results.scenarios) {
    const when = scenario.loadAverage ? ` Measured ${scenario.measuredAt}, load average ${scenario.loadAverage.join(' / ')}.` : '';
    out.push(`### ${scenario.name}`, '', `${scenario.description}${when}`, '');
    if (scenario.error !== undefined) {
      out.push('```', scenario.error, '```', '');
      continue;
    }
    const { header, cells } = tableOf(scenario);
    out.push(markdownTable(header, cells), '');
    const details = scenario.rows.map((row) => `- ${row.label}: ${row.error === undefined ? (row.note ?? '') : `FAILED: ${row.error}`}`);
    out.push(...details, ...(scenario.notes ?? []).map((note) => `- note: ${note}`), '');
  }
  return out.join('\n');
}

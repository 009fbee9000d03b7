// Calls after an idle gap: most calls in a service reach a thread that sat idle a while (an MCP call per HTTP
// request), which back-to-back scenarios never show. Each idle scenario measures its contenders after gaps of 2 ms and
// 20 ms; the rows are labelled with the gap, and the target reads the 2 ms rows.

export const GAPS_MS = [2, 20];

/** The label of a contender's row at one gap. */
export const atGap = (label, gapMs) => `${label}, ${gapMs} ms gap`;

/**
 * Runs `measure(contenders, plan)` once per gap, each time with fresh contenders, and returns the rows of all gaps.
 * @param {() => Array<{ label: string }>} makeContenders
 * @param {(contenders: object[], plan: object) => Promise<{ rows: Array<{ label: string }>, notes: string[] }>} measure
 * @param {boolean} quick
 * @param {number[]} [gaps] the gaps to measure, in ms
 */
export async function measureIdle(makeContenders, measure, quick, gaps = GAPS_MS) {
  const rows = [];
  const notes = [];
  for (const gapMs of gaps) {
    // About the same number of samples per gap would make the 20 ms run last ten times longer: it gets fewer.
    const samples = quick ? 60 : gapMs <= 2 ? 1000 : 250;
    const plan = { rounds: quick ? 2 : 10, batch: Math.ceil(samples / (quick ? 2 : 10)), warmup: quick ? 50 : 300, gapMs, timeoutMs: 120_000 };
    const result = await measure(makeContenders(), plan);
    for (const row of result.rows) rows.push({ ...row, label: atGap(row.label, gapMs) });
    notes.push(...result.notes);
  }
  return { rows, notes };
}

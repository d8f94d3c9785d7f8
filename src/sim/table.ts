import type { SimResult } from './run.js';

/** The simulator's figures as a table for a terminal. */
export function formatTable(result: SimResult): string {
  const columns: [string, (r: SimResult['strategies'][string]) => string][] = [
    ['dup', (r) => String(r.duplicateEffects)],
    ['missing', (r) => String(r.missingEffects)],
    ['orphan', (r) => String(r.orphanedEffects)],
    ['stale', (r) => String(r.staleReplies)],
    ['unans.', (r) => String(r.unansweredMessages)],
    ['max rep/turn', (r) => String(r.maxRepliesPerTurn)],
    ['follow-ups', (r) => String(r.followUps)],
    ['p50 ms', (r) => r.latencyMs.p50.toFixed(0)],
    ['p99 ms', (r) => r.latencyMs.p99.toFixed(0)],
    ['cont. p50', (r) => r.contendedLatencyMs.p50.toFixed(0)],
    ['cont. p99', (r) => r.contendedLatencyMs.p99.toFixed(0)],
    ['calls/turn', (r) => r.modelCallsPerTurn.toFixed(2)],
    ['in tok/turn', (r) => r.inputTokensPerTurn.toFixed(0)],
    ['out tok/turn', (r) => r.outputTokensPerTurn.toFixed(0)],
    ['turns', (r) => String(r.turns)],
    ['contended', (r) => String(r.contendedTurns)],
  ];
  const header = ['strategy', ...columns.map(([name]) => name)];
  const rows = Object.entries(result.strategies).map(([name, r]) => [name, ...columns.map(([, f]) => f(r))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const world =
    (result.world ? `, ${result.world} world` : '') +
    (result.workload ? `, ${result.workload} workload` : '');
  const lines = [
    `seed ${result.seed}, ${result.conversations} conversations per strategy${world}`,
    line(header),
    ...rows.map(line),
  ];
  if (result.coverage)
    lines.push(
      `graft coverage: ${Object.entries(result.coverage)
        .map(([name, n]) => `${name} ${n}`)
        .join(', ')}`,
    );
  return lines.join('\n');
}

import { quantile } from '../benchmarks-file.js';
import type { BatchResult } from './batch.js';

/** The figures of one system over every round. */
export interface SystemFigures {
  id: string;
  name: string;
  conversations: number;
  bursts: number;
  messages: number;
  /** Writes beyond what customers asked for (orders beyond the first, writes that changed nothing). */
  duplicates: number;
  /** Conversations with at least one duplicate write. */
  conversationsWithDuplicates: number;
  /** Conversations whose orders are not what the customer asked for. */
  missing: number;
  repliesPerBurst: number;
  maxRepliesPerBurst: number;
  /** Bursts that got more than one reply. */
  multiReplyBursts: number;
  /** Bursts whose last message no reply covered. */
  unansweredBursts: number;
  latenciesMs: number[];
  p50: number;
  p90: number;
  p99: number;
  calls: number;
  abortedCalls: number;
  /** Creates the emulator answered with an error (a 400 for a malformed context, say). */
  failedCalls: number;
  callsPerTurn: number;
  inputTokensPerTurn: number;
  cachedTokensPerTurn: number;
  outputTokensPerTurn: number;
  /** Wall time of its batches. */
  durationMs: number;
}

export function figuresOf(id: string, name: string, batches: BatchResult[]): SystemFigures {
  const conversations = batches.flatMap((b) => b.conversations);
  const bursts = conversations.flatMap((c) => c.bursts);
  const calls = batches.flatMap((b) => b.calls);
  const latenciesMs = bursts.flatMap((b) => (b.latencyMs === null ? [] : [b.latencyMs]));
  const turns = Math.max(1, bursts.length);
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  return {
    id,
    name,
    conversations: conversations.length,
    bursts: bursts.length,
    messages: sum(conversations.map((c) => c.messages)),
    duplicates: sum(conversations.map((c) => c.duplicates)),
    conversationsWithDuplicates: conversations.filter((c) => c.duplicates > 0).length,
    missing: conversations.filter((c) => c.missing).length,
    repliesPerBurst: sum(bursts.map((b) => b.replies)) / turns,
    maxRepliesPerBurst: Math.max(0, ...bursts.map((b) => b.replies)),
    multiReplyBursts: bursts.filter((b) => b.replies > 1).length,
    unansweredBursts: bursts.filter((b) => b.latencyMs === null).length,
    latenciesMs,
    p50: quantile(latenciesMs, 0.5),
    p90: quantile(latenciesMs, 0.9),
    p99: quantile(latenciesMs, 0.99),
    calls: calls.length,
    abortedCalls: calls.filter((c) => c.aborted).length,
    failedCalls: calls.filter((c) => c.status !== null && c.status >= 400).length,
    callsPerTurn: calls.length / turns,
    inputTokensPerTurn: sum(calls.map((c) => c.inputTokens)) / turns,
    cachedTokensPerTurn: sum(calls.map((c) => c.cachedTokens)) / turns,
    outputTokensPerTurn: sum(calls.map((c) => c.outputTokens)) / turns,
    durationMs: sum(batches.map((b) => b.durationMs)),
  };
}

const ms = (v: number) => (Number.isFinite(v) ? Math.round(v).toString() : '–');
const one = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '–');
const two = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');

const COLUMNS: [string, (f: SystemFigures) => string][] = [
  ['system', (f) => f.name],
  ['conversations', (f) => String(f.conversations)],
  ['bursts', (f) => String(f.bursts)],
  ['duplicate writes', (f) => `${f.duplicates} (${f.conversationsWithDuplicates} conv.)`],
  ['missing', (f) => String(f.missing)],
  ['replies/burst', (f) => `${two(f.repliesPerBurst)} (max ${f.maxRepliesPerBurst})`],
  ['bursts >1 reply', (f) => String(f.multiReplyBursts)],
  ['unanswered', (f) => String(f.unansweredBursts)],
  ['latency p50 / p90 / p99 ms', (f) => `${ms(f.p50)} / ${ms(f.p90)} / ${ms(f.p99)}`],
  ['calls/turn', (f) => `${two(f.callsPerTurn)}${f.abortedCalls ? ` (${f.abortedCalls} aborted)` : ''}`],
  ['model errors', (f) => String(f.failedCalls)],
  ['input tokens/turn', (f) => ms(f.inputTokensPerTurn)],
  ['output tokens/turn', (f) => one(f.outputTokensPerTurn)],
];

/** The side-by-side table as Markdown. */
export function markdownTable(figures: SystemFigures[]): string {
  const header = `| ${COLUMNS.map(([name]) => name).join(' | ')} |`;
  const rule = `| ${COLUMNS.map(([,], i) => (i === 0 ? '---' : '---:')).join(' | ')} |`;
  const rows = figures.map((f) => `| ${COLUMNS.map(([, cell]) => cell(f)).join(' | ')} |`);
  return [header, rule, ...rows].join('\n');
}

/** The same table as padded text for the terminal. */
export function textTable(figures: SystemFigures[]): string {
  const cells = [COLUMNS.map(([name]) => name), ...figures.map((f) => COLUMNS.map(([, cell]) => cell(f)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells
    .map((row) =>
      row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    )
    .join('\n');
}

const ratio = (a: number, b: number) =>
  Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : Number.NaN;

/** graft's figure divided by each peer's (below 1: graft is lower), as Markdown. */
export function ratioTable(graft: SystemFigures, peers: SystemFigures[]): string {
  const lines = [
    '| graft ÷ peer | latency p50 | latency p90 | latency p99 | calls/turn | input tokens/turn | duplicate writes (graft vs peer) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const peer of peers)
    lines.push(
      `| ${peer.name} | ${two(ratio(graft.p50, peer.p50))} | ${two(ratio(graft.p90, peer.p90))} | ${two(ratio(graft.p99, peer.p99))} | ${two(ratio(graft.callsPerTurn, peer.callsPerTurn))} | ${two(ratio(graft.inputTokensPerTurn, peer.inputTokensPerTurn))} | ${graft.duplicates} vs ${peer.duplicates} |`,
    );
  return lines.join('\n');
}

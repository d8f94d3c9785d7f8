import type { DesiredOrder } from '../demo/clerk/language.js';
import type { Order, Shop } from '../demo/shop/shop.js';
import type { ConversationRecord } from './recorder.js';

/** The figures of one strategy over a run (the `--json` shape of `graft sim`). */
export interface StrategyReport {
  duplicateEffects: number;
  missingEffects: number;
  orphanedEffects: number;
  staleReplies: number;
  unansweredMessages: number;
  repliesPerTurn: number;
  maxRepliesPerTurn: number;
  followUps: number;
  latencyMs: Percentiles;
  contendedLatencyMs: Percentiles;
  modelCallsPerTurn: number;
  inputTokensPerTurn: number;
  outputTokensPerTurn: number;
  turns: number;
  contendedTurns: number;
  messages: number;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

/** What one conversation contributes; summed over a run. */
export interface ConversationFigures {
  duplicateEffects: number;
  missingEffects: number;
  orphanedEffects: number;
  staleReplies: number;
  unansweredMessages: number;
  maxRepliesPerMessage: number;
  replies: number;
  followUps: number;
  latenciesMs: number[];
  contendedLatenciesMs: number[];
  modelCalls: number;
  inputTokens: number;
  outputTokens: number;
  turns: number;
  contendedTurns: number;
  messages: number;
}

/**
 * Measures one finished conversation. Definitions (the issue's): a duplicate effect is a write
 * beyond what the customer asked for (a second order, a write that changed nothing); a missing
 * effect is one the shop's final state lacks; an orphaned effect is a started effect missing from
 * the context of a later model call; a stale reply does not cover a message received before it
 * was committed; a turn is the messages one reply answers, contended when one of them arrived
 * while an attempt was live. A latency runs from the last message a reply covers to its commit.
 */
export function measure(record: ConversationRecord, shop: Shop, desired: DesiredOrder): ConversationFigures {
  const orders = shop.orders(record.conversationId);
  const invocations = shop.invocations().filter((i) => i.conversationId === record.conversationId);
  const noOps = invocations.filter((i) => !i.changed && i.error === undefined).length;
  const duplicateEffects = Math.max(0, orders.length - 1) + noOps;
  const missingEffects = matchesDesired(orders, desired) ? 0 : 1;

  const byId = new Map(record.messages.map((m) => [m.id, m]));
  const delivered = record.replies.filter((r) => r.deliveredAt !== null);
  const coverCount = new Map<string, number>();
  for (const reply of delivered)
    for (const id of reply.covers) coverCount.set(id, (coverCount.get(id) ?? 0) + 1);
  // A person's reply answers messages, but it is no turn of the bot's: its latency is the person's.
  const turns = delivered.filter(
    (r) => r.kind !== 'follow-up' && r.kind !== 'operator' && r.covers.length > 0,
  );
  const latenciesMs: number[] = [];
  const contendedLatenciesMs: number[] = [];
  let contendedTurns = 0;
  for (const reply of turns) {
    const covered = reply.covers.map((id) => byId.get(id)).filter((m) => m !== undefined);
    const last = Math.max(...covered.map((m) => m.at));
    const latency = reply.committedAt - last;
    latenciesMs.push(latency);
    if (covered.some((m) => m.contended)) {
      contendedTurns += 1;
      contendedLatenciesMs.push(latency);
    }
  }
  return {
    duplicateEffects,
    missingEffects,
    orphanedEffects: orphaned(record),
    staleReplies: delivered.filter((r) =>
      record.messages.some(
        (m) => m.op < r.committedOp && !r.covers.includes(m.id) && !coveredBefore(record, m.id, r),
      ),
    ).length,
    unansweredMessages: record.messages.filter((m) => !coverCount.has(m.id)).length,
    maxRepliesPerMessage: Math.max(0, ...coverCount.values()),
    replies: turns.length,
    followUps: delivered.filter((r) => r.kind === 'follow-up').length,
    latenciesMs,
    contendedLatenciesMs,
    modelCalls: record.calls.length,
    inputTokens: record.calls.reduce((s, c) => s + c.inputTokens, 0),
    outputTokens: record.calls.reduce((s, c) => s + c.outputTokens, 0),
    turns: turns.length,
    contendedTurns,
    messages: record.messages.length,
  };
}

/**
 * Whether the shop's orders are what the customer wants: an active order with exactly the items
 * wanted, or no active order when they want none (never ordered, or cancelled).
 */
export function matchesDesired(orders: readonly Order[], desired: DesiredOrder): boolean {
  const active = orders.filter((o) => o.status === 'confirmed');
  const wanted = desired !== null && !desired.cancelled ? JSON.stringify(desired.items) : null;
  if (wanted === null) return active.length === 0;
  return active.some((o) => JSON.stringify(sortItems(o.items)) === wanted);
}

function sortItems(items: readonly { product: string; quantity: number }[]) {
  return [...items]
    .map((i) => ({ product: i.product, quantity: i.quantity }))
    .sort((a, b) => (a.product < b.product ? -1 : a.product > b.product ? 1 : 0));
}

/** A message answered by an earlier committed reply is not owed by a later one. */
function coveredBefore(
  record: ConversationRecord,
  messageId: string,
  reply: ConversationRecord['replies'][number],
): boolean {
  return record.replies.some(
    (r) => r !== reply && r.committedOp < reply.committedOp && r.covers.includes(messageId),
  );
}

/** Effects missing from the context of some model call that started after them. */
export function orphaned(record: ConversationRecord): number {
  let count = 0;
  for (const effect of record.effects) {
    if (record.calls.some((c) => c.op > effect.startOp && !c.held.has(effect.toolCallId))) count += 1;
  }
  return count;
}

export function emptyFigures(): ConversationFigures {
  return {
    duplicateEffects: 0,
    missingEffects: 0,
    orphanedEffects: 0,
    staleReplies: 0,
    unansweredMessages: 0,
    maxRepliesPerMessage: 0,
    replies: 0,
    followUps: 0,
    latenciesMs: [],
    contendedLatenciesMs: [],
    modelCalls: 0,
    inputTokens: 0,
    outputTokens: 0,
    turns: 0,
    contendedTurns: 0,
    messages: 0,
  };
}

export function addFigures(total: ConversationFigures, one: ConversationFigures): void {
  for (const key of Object.keys(total) as (keyof ConversationFigures)[]) {
    if (key === 'latenciesMs' || key === 'contendedLatenciesMs') total[key].push(...one[key]);
    else if (key === 'maxRepliesPerMessage') total[key] = Math.max(total[key], one[key]);
    else total[key] += one[key];
  }
}

export function report(total: ConversationFigures): StrategyReport {
  const perTurn = (n: number) => round(total.turns === 0 ? 0 : n / total.turns, 3);
  return {
    duplicateEffects: total.duplicateEffects,
    missingEffects: total.missingEffects,
    orphanedEffects: total.orphanedEffects,
    staleReplies: total.staleReplies,
    unansweredMessages: total.unansweredMessages,
    repliesPerTurn: perTurn(total.replies),
    maxRepliesPerTurn: total.maxRepliesPerMessage,
    followUps: total.followUps,
    latencyMs: percentiles(total.latenciesMs),
    contendedLatencyMs: percentiles(total.contendedLatenciesMs),
    modelCallsPerTurn: perTurn(total.modelCalls),
    inputTokensPerTurn: perTurn(total.inputTokens),
    outputTokensPerTurn: perTurn(total.outputTokens),
    turns: total.turns,
    contendedTurns: total.contendedTurns,
    messages: total.messages,
  };
}

function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted.length === 0
      ? 0
      : round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!, 1);
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

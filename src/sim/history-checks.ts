import type { EffectStatus } from '../core/events.js';
import { humanFindings } from './human-checks.js';
import type { ConversationRecord, ModelCallRecord } from './recorder.js';
import type { ToolInvocation } from './tool-log.js';
import { statusAt, writeSpan } from './tool-log.js';

/** A broken rule, before the conversation id is added. */
export interface Finding {
  guarantee: number;
  detail: string;
}

/** How many offenders of one rule a conversation reports in full; the rest are counted. */
const MAX_LISTED = 3;

/**
 * The adversarial world's rules, judged only from what was observed (graft's log as each call was
 * requested, the contexts the model received, the tools' own log, the replies), so that graft and
 * the baselines are judged alike; and, where people are in the loop, the rules on approvals and
 * takeovers (`humanFindings`, which reads graft's log and the operator's own acts too).
 */
export function historyFindings(record: ConversationRecord): Finding[] {
  return [
    ...contextStatusFindings(record),
    ...replyContextFindings(record),
    ...writeOverlapFindings(record.invocations),
    ...unseenMessageFindings(record),
    ...keyReuseFindings(record.invocations),
    ...replyCoverFindings(record),
    ...humanFindings(record),
    ...record.errors.map((error) => ({ guarantee: 0, detail: `graft reported an error: ${error}` })),
  ];
}

/**
 * Guarantee 4, with statuses: every model call's context holds every effect started before the
 * call was requested, at the status it had then. For graft, "then" is graft's ledger when it
 * appended the call's `model.requested`; for a strategy without a ledger, it is the tools' own
 * log when the call was made (running, done if the shop took the write, else failed).
 */
export function contextStatusFindings(record: ConversationRecord): Finding[] {
  const offences: string[] = [];
  record.calls.forEach((call, index) => {
    if (call.seen === undefined) return;
    for (const id of call.repeatedCallIds ?? [])
      offences.push(`model call #${index}${callName(call)} holds two function calls with call id ${id}`);
    if (call.ledger === null) {
      offences.push(`model call #${index} (${call.callId ?? 'no call id'}) cannot be linked to graft's log`);
      return;
    }
    const expected = call.ledger ?? truthAt(record.invocations, call.op);
    for (const [toolCallId, status] of expected) {
      const seen = call.seen.get(toolCallId);
      if (seen === status) continue;
      const tool = record.invocations.find((i) => i.toolCallId === toolCallId)?.tool ?? 'effect';
      const source = call.ledger ? "graft's ledger" : 'the tool log';
      offences.push(
        `model call #${index}${callName(call)} holds ${tool} ${toolCallId} as ${seen ?? 'absent'}; ${source} had it ${status}`,
      );
    }
  });
  return summarise(4, offences);
}

/**
 * Guarantee 2, with statuses: a reply is committed only from a draft whose context holds every
 * started effect at the status it has at the commit (a draft that missed a settle is rebased, one
 * written while a write runs says so). "At the commit": graft's ledger then, or the tools' own log.
 */
export function replyContextFindings(record: ConversationRecord): Finding[] {
  const offences: string[] = [];
  for (const reply of record.replies) {
    const call = reply.fromCall === undefined ? undefined : record.calls[reply.fromCall];
    if (call?.seen === undefined) continue;
    const expected = reply.ledger ?? truthAt(record.invocations, reply.committedOp);
    for (const [toolCallId, status] of expected) {
      const seen = call.seen.get(toolCallId);
      if (seen !== status)
        offences.push(
          `the ${reply.kind} committed at ${Math.round(reply.committedAt)} ms was drafted holding ${toolCallId} as ${seen ?? 'absent'}; it was ${status}`,
        );
    }
  }
  return summarise(2, offences);
}

/** Effects that some model call's context lacked altogether (the orphaned-effects figure of this world). */
export function absentEffects(record: ConversationRecord): number {
  const absent = new Set<string>();
  for (const call of record.calls) {
    if (call.seen === undefined || call.ledger === null) continue;
    for (const toolCallId of (call.ledger ?? truthAt(record.invocations, call.op)).keys())
      if (!call.seen.has(toolCallId)) absent.add(toolCallId);
  }
  return absent.size;
}

function callName(call: ModelCallRecord): string {
  return call.callId ? ` (${call.callId})` : '';
}

/** What the tools' own log says of every write started before `op`, by tool call id. */
function truthAt(invocations: readonly ToolInvocation[], op: number): Map<string, EffectStatus> {
  const truth = new Map<string, EffectStatus>();
  for (const invocation of invocations)
    if (invocation.startOp < op) truth.set(invocation.toolCallId, statusAt(invocation, op));
  return truth;
}

/**
 * Guarantee 3: no two writes of a conversation overlap. A write's span runs from the start of its
 * invocation to the moment the shop accepted it (see `writeSpan`): only then could it still change
 * the shop. An invocation that never wrote — it failed before reaching the shop, or the shop
 * refused it (a fenced late run, an unknown order) — has no span and overlaps nothing. Writes that
 * one response asked for together may run together: they were decided on one context.
 */
export function writeOverlapFindings(invocations: readonly ToolInvocation[]): Finding[] {
  const writes = invocations.flatMap((invocation) => {
    const span = writeSpan(invocation);
    return span ? [{ invocation, span }] : [];
  });
  const offences: string[] = [];
  for (let i = 0; i < writes.length; i += 1) {
    for (let j = i + 1; j < writes.length; j += 1) {
      const a = writes[i]!;
      const b = writes[j]!;
      const together =
        a.invocation.requestedBy !== null && a.invocation.requestedBy === b.invocation.requestedBy;
      if (!together && a.span.from < b.span.to && b.span.from < a.span.to)
        offences.push(`${describe(a.invocation)} and ${describe(b.invocation)} wrote at the same time`);
    }
  }
  return summarise(3, offences);
}

/**
 * Guarantee 3, for messages: a write runs only from a context that holds every customer message
 * received before it was decided (graft's `effect.started`; for a strategy without a gate, the
 * start of the run). A write decided before a newer message is the old branch's, or must be
 * rebased so that the model sees the message. Messages are matched by text, counting repeats.
 */
export function unseenMessageFindings(record: ConversationRecord): Finding[] {
  const offences: string[] = [];
  for (const invocation of record.invocations) {
    const call = invocation.requestedBy === null ? undefined : record.calls[invocation.requestedBy];
    if (!call) continue;
    const decided = record.writeDecisions.get(invocation.toolCallId) ?? invocation.startOp;
    const unseen = missingTexts(
      record.messages.filter((m) => m.op < decided),
      call.userTexts,
    );
    if (unseen.length > 0)
      offences.push(
        `${describe(invocation)} was decided on a context without message ${unseen.map((m) => m.id).join(', ')}`,
      );
  }
  return summarise(3, offences);
}

/** The messages whose text the context lacks (as many times as the messages repeat it). */
function missingTexts<M extends { text: string }>(messages: readonly M[], texts: readonly string[]): M[] {
  const available = new Map<string, number>();
  for (const text of texts) available.set(text, (available.get(text) ?? 0) + 1);
  return messages.filter((m) => {
    const left = available.get(m.text) ?? 0;
    available.set(m.text, left - 1);
    return left <= 0;
  });
}

/** Guarantee 5: each idempotency key (each generation `<key>#<n>` is its own key) was invoked at most once. */
export function keyReuseFindings(invocations: readonly ToolInvocation[]): Finding[] {
  const byKey = new Map<string, ToolInvocation[]>();
  for (const invocation of invocations)
    byKey.set(invocation.key, [...(byKey.get(invocation.key) ?? []), invocation]);
  const offences: string[] = [];
  for (const [key, runs] of byKey) {
    if (runs.length > 1)
      offences.push(
        `key ${key} was invoked ${runs.length} times (by ${runs.map((r) => r.runner).join(', ')})`,
      );
  }
  return summarise(5, offences);
}

/** Guarantees 8 and 2: every message is covered by exactly one delivered reply. */
export function replyCoverFindings(record: ConversationRecord): Finding[] {
  const covered = new Map<string, number>();
  for (const reply of record.replies) {
    if (reply.deliveredAt === null) continue;
    for (const id of reply.covers) covered.set(id, (covered.get(id) ?? 0) + 1);
  }
  const unanswered: string[] = [];
  const repeated: string[] = [];
  for (const message of record.messages) {
    const count = covered.get(message.id) ?? 0;
    if (count === 0) unanswered.push(`message ${message.id} has no delivered reply`);
    if (count > 1) repeated.push(`message ${message.id} is covered by ${count} delivered replies`);
  }
  return [...summarise(8, unanswered), ...summarise(2, repeated)];
}

function describe(invocation: ToolInvocation): string {
  return `${invocation.tool} ${invocation.key} (ops ${invocation.startOp}–${invocation.wroteOp ?? '?'}, ${invocation.runner})`;
}

/** One finding per rule: the first offences in full, the rest counted. */
function summarise(guarantee: number, offences: readonly string[]): Finding[] {
  if (offences.length === 0) return [];
  const more = offences.length > MAX_LISTED ? `; and ${offences.length - MAX_LISTED} more` : '';
  return [{ guarantee, detail: offences.slice(0, MAX_LISTED).join('; ') + more }];
}

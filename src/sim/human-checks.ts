import type { DesiredOrder } from '../demo/clerk/language.js';
import { applyIntent } from '../demo/clerk/language.js';
import type { Order } from '../demo/shop/shop.js';
import type { Finding } from './history-checks.js';
import { matchesDesired } from './metrics.js';
import type { ConversationRecord, HumanRecord } from './recorder.js';
import type { ToolInvocation } from './tool-log.js';
import type { ScriptedMessage } from './workload.js';

/**
 * The guarantee number the checker reports the rules on humans in the loop under (DESIGN.md,
 * "Humans in the loop"): approvals and takeovers.
 */
export const HUMANS_GUARANTEE = 9;

/** How many offenders of one rule a conversation reports in full; the rest are counted. */
const MAX_LISTED = 3;

/**
 * The rules on approvals and takeovers, judged from the tools' own log, graft's log as the
 * observer saw it, and the operator's own record of its acts and graft's answers.
 */
export function humanFindings(record: ConversationRecord): Finding[] {
  const humans = record.humans;
  if (!humans) return [];
  return [
    ...approvalFindings(record.invocations, humans),
    ...awaitingFindings(record.invocations, humans),
    ...takeoverFindings(humans),
    ...decisionFindings(humans),
  ];
}

/**
 * No write that needs approval runs without one: every invocation of such a tool (the tools' own
 * log) belongs to a request that graft's log shows approved before the invocation started, and
 * runs under the request's key. A write may be invoked once per approval (a key that ran is never
 * run again: `keyReuseFindings` says so).
 */
export function approvalFindings(invocations: readonly ToolInvocation[], humans: HumanRecord): Finding[] {
  const offences: string[] = [];
  for (const invocation of invocations) {
    if (!humans.approvalTools.includes(invocation.tool)) continue;
    const name = `${invocation.tool} ${invocation.key} (${invocation.runner})`;
    const request = invocation.effectId === null ? undefined : humans.requests.get(invocation.effectId);
    const decision = request?.decision ?? null;
    if (!request) offences.push(`${name} ran, but graft's log holds no request for approval for it`);
    else if (decision?.kind !== 'approved')
      offences.push(`${name} ran without approval: its request was ${decision?.kind ?? 'still pending'}`);
    else if (decision.op > invocation.startOp) offences.push(`${name} ran before it was approved`);
    else if (request.key !== invocation.key)
      offences.push(`${name} ran under another key than the one approved (${request.key})`);
  }
  return summarise(offences);
}

/**
 * While a request awaits a decision, no other write of the conversation starts: graft's log holds
 * no `effect.started` between the request's and its decision, and by the tools' own log no write
 * that was not started with the request (in the same response) reached the shop meanwhile.
 */
export function awaitingFindings(invocations: readonly ToolInvocation[], humans: HumanRecord): Finding[] {
  const offences: string[] = [];
  for (const request of humans.requests.values()) {
    const untilSeq = request.decision?.seq ?? Number.POSITIVE_INFINITY;
    const untilOp = request.decision?.op ?? Number.POSITIVE_INFINITY;
    const waiting = `while ${request.tool} ${request.effectId} awaited approval`;
    for (const entry of humans.log)
      if (entry.type === 'effect.started' && entry.seq > request.seq && entry.seq < untilSeq)
        offences.push(`${entry.detail} started at seq ${entry.seq} ${waiting}`);
    for (const invocation of invocations) {
      const started = invocation.effectId === null ? undefined : humans.started.get(invocation.effectId);
      const wrote = invocation.wroteOp;
      const own = invocation.effectId === request.effectId || started === request.seq;
      if (own || wrote === null || wrote < request.op || wrote > untilOp) continue;
      offences.push(`${invocation.tool} ${invocation.key} (${invocation.runner}) wrote ${waiting}`);
    }
  }
  return summarise(offences);
}

/**
 * While a person has the conversation (from `conversation.taken-over` to `conversation.released`
 * in graft's log) the bot starts nothing: no attempt, no model call, no write (`effect.started`)
 * and no reply of its own (kinds reply, follow-up, fallback). Replies of kind `operator` come only
 * then. An approval (`effect.approved`) is allowed during a takeover: it is the person's own act,
 * on a request the bot made before, and the write it runs settles and is recorded like any write
 * that was running when the conversation was taken over. Every takeover is released in the end
 * (the simulated person always releases).
 */
export function takeoverFindings(humans: HumanRecord): Finding[] {
  const offences: string[] = [];
  let since: number | null = null;
  for (const entry of humans.log) {
    const at = `seq ${entry.seq}`;
    switch (entry.type) {
      case 'conversation.taken-over':
        if (since !== null) offences.push(`taken over again at ${at} while taken over since seq ${since}`);
        since = entry.seq;
        break;
      case 'conversation.released':
        if (since === null) offences.push(`released at ${at} while not taken over`);
        since = null;
        break;
      case 'reply.committed':
        if (entry.detail === 'operator' && since === null)
          offences.push(`an operator reply was committed at ${at} while the bot had the conversation`);
        if (entry.detail !== 'operator' && since !== null)
          offences.push(
            `a ${entry.detail} reply was committed at ${at}, while taken over since seq ${since}`,
          );
        break;
      case 'effect.started':
      case 'attempt.started':
      case 'model.requested':
        if (since !== null)
          offences.push(`${entry.type} (${entry.detail}) at ${at}, while taken over since seq ${since}`);
        break;
      case 'effect.approved':
        break;
    }
  }
  if (since !== null) offences.push(`taken over at seq ${since} and never released`);
  return summarise(offences);
}

/**
 * Decisions: each request is decided once, by a person before its bound, or by graft's expiry at
 * or after it, or withdrawn — exactly when the attempt that made it was superseded (by a message or
 * a takeover) or failed before the decision. A decision the operator made succeeds only on a
 * pending request, and is then the request's decision in graft's log (each decision act has an
 * operator name of its own, so the log names the act that decided). A decision on a request that
 * was already decided, expired or withdrawn is refused with `request_not_pending`, and graft's log
 * shows that end before the refusal. The person's other acts (take over, reply, release) are made
 * only when the state allows them, so each must succeed — but a reply after the release, which
 * must be refused with `not_taken_over`.
 */
export function decisionFindings(humans: HumanRecord): Finding[] {
  const offences: string[] = [];
  for (const request of humans.requests.values()) {
    if (request.decisions > 1)
      offences.push(`request ${request.effectId} was decided ${request.decisions} times`);
    const decision = request.decision;
    // The attempt that made the request stopped being live undecided: the request is withdrawn
    // (and a request is withdrawn only then).
    const ended = humans.attemptEnds.get(request.attemptId);
    const owed = ended !== undefined && (decision === null || decision.seq > ended);
    if (owed && decision?.kind !== 'withdrawn')
      offences.push(
        `request ${request.effectId} was ${decision?.kind ?? 'still pending'} after its attempt ${request.attemptId} ended at seq ${ended}: it should have been withdrawn`,
      );
    if (!owed && decision?.kind === 'withdrawn')
      offences.push(
        `request ${request.effectId} was withdrawn while its attempt ${request.attemptId} was live`,
      );
    if (!decision || decision.kind === 'withdrawn') continue;
    // A person's decision by the clock of the instance that appended it (it stamps `at`, and must
    // refuse the decision by the same clock once the request expired). An expiry is planned at a
    // time that may be another instance's (the latest event's), so its stamp may read up to the
    // clocks' spread earlier.
    const early = decision.at < request.expiresAt - humans.clockSpreadMs;
    const late = decision.at >= request.expiresAt;
    if (decision.kind === 'expired' ? early : late)
      offences.push(
        `request ${request.effectId} was ${decision.kind} at ${Math.round(decision.at)} ms; it expired at ${Math.round(request.expiresAt)} ms`,
      );
  }
  for (const act of humans.acts) {
    if (act.kind !== 'decide') {
      // A reply after the release is refused; every other act of the person's is allowed.
      const expected = act.late ? 'not_taken_over' : 'ok';
      if (act.outcome !== expected)
        offences.push(
          `the operator's ${act.late ? 'late ' : ''}${act.kind} through ${act.via} ended ${act.outcome ?? 'never'}`,
        );
      continue;
    }
    const request = humans.requests.get(act.effectId ?? '');
    const decision = request?.decision ?? null;
    const name = `${act.late ? 'a late ' : ''}${act.decision} of ${act.effectId} by ${act.operator} through ${act.via}`;
    if (act.outcome === 'ok') {
      const expected = act.decision === 'approve' ? 'approved' : 'rejected';
      if (decision?.operator !== act.operator || decision.kind !== expected)
        offences.push(
          `${name} succeeded, but the request was ${decision ? `${decision.kind}${decision.operator ? ` by ${decision.operator}` : ''}` : 'never decided'}`,
        );
    } else if (act.outcome === 'request_not_pending') {
      // Ended before the refusal; or past its bound by the deciding instance's clock, which graft
      // refuses before any instance has recorded the expiry.
      const ended = decision !== null && decision.operator !== act.operator && decision.op < (act.endOp ?? 0);
      const expired =
        decision?.kind === 'expired' &&
        act.endInstanceMs !== null &&
        act.endInstanceMs >= (request?.expiresAt ?? Number.POSITIVE_INFINITY);
      if (!ended && !expired)
        offences.push(`${name} was refused as not pending, but the request was still pending`);
    } else {
      offences.push(`${name} ended ${act.outcome ?? 'never'}`);
    }
  }
  return summarise(offences);
}

/**
 * Guarantee 5's missing effect, with humans in the loop: whether the shop's final state lacks what
 * the customer asked for, of what was the bot's to do.
 * - The customer's last messages that only a person answered (operator replies, no bot reply
 *   since) were the person's to handle, and the simulated person changes no order: the shop may
 *   show what the customer wanted after any message from the last one the bot answered on.
 * - A cancellation needs a person's approval: when a request to cancel ended without cancelling
 *   (rejected, expired, or withdrawn and not asked again; or approved and then refused by the
 *   shop), the customer's wish was legitimately refused, and the order may stay as it was before
 *   they asked to cancel — as it was after any
 *   message from the last one a bot reply answered without knowing of the cancellation (a reply
 *   that knew of it went for the cancellation, and rightly skipped the changes just before it).
 * Without operator replies or refused cancellations this is the plain rule: the fold of every message.
 */
export function missingWithHumans(
  record: ConversationRecord,
  orders: readonly Order[],
  messages: readonly ScriptedMessage[],
): number {
  const desired: DesiredOrder[] = [];
  let fold: DesiredOrder = null;
  for (const m of messages) desired.push((fold = applyIntent(fold, m.intent)));
  const byBot = new Set<string>();
  const byPerson = new Set<string>();
  for (const reply of record.replies)
    for (const id of reply.covers) (reply.kind === 'operator' ? byPerson : byBot).add(id);
  let from = messages.length - 1;
  while (from >= 0 && byPerson.has(messages[from]!.id) && !byBot.has(messages[from]!.id)) from -= 1;
  const allowed = new Set<number>();
  for (let k = from; k < messages.length; k += 1) allowed.add(k);
  const cancelAt = messages.findIndex((m) => m.intent.kind === 'cancel');
  if (cancelAt >= 0 && cancelNotDone(record)) {
    // The last message a bot reply answered without knowing of the cancellation: a reply whose
    // context held the cancellation went for it at once, and skipped the changes just before it.
    const index = new Map(messages.map((m, i) => [m.id, i]));
    let answered = -1;
    for (const reply of record.replies) {
      if (reply.kind === 'operator') continue;
      const covered = reply.covers.map((id) => index.get(id) ?? messages.length);
      if (covered.every((i) => i < cancelAt)) answered = Math.max(answered, ...covered);
    }
    for (let k = answered; k < cancelAt; k += 1) allowed.add(k);
  }
  const ok = [...allowed].some((k) => matchesDesired(orders, k < 0 ? null : desired[k]!));
  return ok ? 0 : 1;
}

/**
 * Whether a request to cancel ended without cancelling: it did not run (rejected, expired,
 * withdrawn), or it was approved and the shop did not take it (by the tools' own log, no run of
 * it wrote: the tool refused or failed before writing, or `reconcile` fenced it). The bot is then
 * told, and need not ask again until the customer does.
 */
function cancelNotDone(record: ConversationRecord): boolean {
  const requests = record.humans ? [...record.humans.requests.values()] : [];
  return requests.some(
    (r) =>
      r.tool === 'cancel_order' &&
      r.decision !== null &&
      (r.decision.kind !== 'approved' ||
        !record.invocations.some((i) => i.effectId === r.effectId && i.wroteOp !== null)),
  );
}

function summarise(offences: readonly string[]): Finding[] {
  if (offences.length === 0) return [];
  const more = offences.length > MAX_LISTED ? `; and ${offences.length - MAX_LISTED} more` : '';
  return [{ guarantee: HUMANS_GUARANTEE, detail: offences.slice(0, MAX_LISTED).join('; ') + more }];
}

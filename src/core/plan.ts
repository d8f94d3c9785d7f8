import type { Command, Plan } from './commands.js';
import type { CoreConfig } from './config.js';
import { toolBounds } from './config.js';
import type { ContextEntry, EventBody, ModelCallReason, RefusalReason } from './events.js';
import { invariant } from './errors.js';
import type { AttemptId, CallId, IdempotencyKey } from './ids.js';
import { attemptIdAt, callIdAt, effectIdAt, replyIdAt } from './ids.js';
import { outputText } from './items.js';
import {
  allAnswered,
  answerEntries,
  effectOutput,
  knowledgeOf,
  missingEffects,
  newInput,
  notes,
  notices,
} from './context.js';
import type {
  AttemptState,
  ConversationState,
  EffectState,
  MessageState,
  ModelCallState,
  ToolCallState,
} from './state.js';
import {
  attentionNeeded,
  awaitingDelivery,
  generationKey,
  getAttempt,
  getCall,
  getEffect,
  leased,
} from './state.js';
import { buildRequest, callOrigin } from './request.js';

/**
 * The core's decision at one moment, a pure function of the state (which `evolve` folds from the
 * log): the events to append (the gate), or, when there are none, the I/O the state asks for and
 * when to plan again. `now` is the caller's clock reading; nothing here reads a clock.
 */
export function plan(state: ConversationState, config: CoreConfig, now: number): Plan {
  const at = Math.max(now, state.now);
  const batch = new Batch(state);
  decideNext(state, config, at, batch);
  if (batch.events.length > 0) return { kind: 'append', events: batch.events };
  return { kind: 'io', commands: io(state, config, at), wakeAt: wakeAt(state, config, at) };
}

/** Collects decision events and knows the seq each will get when appended. */
class Batch {
  readonly events: EventBody[] = [];
  constructor(private readonly state: ConversationState) {}
  /** The seq the next pushed event will have. */
  get nextSeq(): number {
    return this.state.seq + this.events.length + 1;
  }
  push(event: EventBody): void {
    this.events.push(event);
  }
}

function decideNext(state: ConversationState, config: CoreConfig, now: number, batch: Batch): void {
  if (
    boundTools(state, config, now, batch) ||
    keepLeases(state, config, now, batch) ||
    endRequests(state, now, batch)
  )
    return;
  // A person has the conversation: the bot starts nothing (the takeover superseded its attempt).
  if (state.takenOver !== null) return;
  const live = state.live === null ? null : (state.attempts.get(state.live) ?? null);
  const waiting = state.messages.filter((m) => m.coveredBy === null);
  if (live) {
    const newer = waiting.filter((m) => m.seq > live.startedSeq);
    const last = newer.at(-1);
    if (last && attemptsInTurn(state) < config.limits.attemptsPerTurn) {
      batch.push({ type: 'attempt.superseded', attemptId: live.attemptId, byMessageId: last.messageId });
      // Its requests for approval are withdrawn first, so that the next attempt's context says so.
      if (withdrawRequests(state, live.attemptId, batch)) return;
      startAttempt(state, config, now, batch, 'message');
      return;
    }
    // Past the attempts bound, newer messages steer into the live attempt (see `messageBound`).
    // Only the owner moves an attempt on; the others watch its lease.
    if (live.owner === config.instanceId) advance(state, config, now, live, batch);
    return;
  }
  if (waiting.length > 0) startAttempt(state, config, now, batch, 'message');
  else if (followUpNeeded(state) && followUpsSinceMessage(state) < config.limits.followUpsPerMessage)
    startAttempt(state, config, now, batch, 'follow-up');
}

/**
 * Leases: the owner renews its live attempt and running writes in time; any instance claims a
 * live attempt whose lease expired (the claim is appended at the expected seq, so two instances
 * cannot both win), and records a lost owner's running write as unknown, to be reconciled.
 */
function keepLeases(state: ConversationState, config: CoreConfig, now: number, batch: Batch): boolean {
  const me = config.instanceId;
  const until = now + config.limits.leaseMs;
  const live = state.live === null ? null : getAttempt(state, state.live);
  if (live && live.owner !== me && now >= live.leaseUntil) {
    batch.push({ type: 'lease.claimed', attemptId: live.attemptId, owner: me, until });
  }
  for (const effect of state.effects.values()) {
    if (leased(effect) && effect.owner !== me && now >= effect.leaseUntil) {
      const reason =
        effect.status === 'running'
          ? `owner ${effect.owner} lost its lease`
          : `reconciler ${effect.owner} lost its lease`;
      batch.push({
        type: 'effect.unknown',
        effectId: effect.effectId,
        reason,
        cause: 'owner-lost',
        reconciler: me,
        until,
      });
    }
  }
  if (batch.events.length > 0) return true;
  const renewAt = (leaseUntil: number) => leaseUntil - config.limits.leaseMs / 2;
  const attempts = live && live.owner === me && now >= renewAt(live.leaseUntil) ? [live.attemptId] : [];
  const effects = [...state.effects.values()]
    .filter((e) => leased(e) && e.owner === me && now >= renewAt(e.leaseUntil))
    .map((e) => e.effectId);
  if (attempts.length === 0 && effects.length === 0) return false;
  batch.push({ type: 'lease.renewed', owner: me, until, attempts, effects });
  return true;
}

function attemptsInTurn(state: ConversationState): number {
  let count = 0;
  for (const attempt of state.attempts.values()) if (attempt.turn === state.turn) count += 1;
  return count;
}

/**
 * The seq before which a live attempt's messages arrived. Past the attempts-per-turn bound no new
 * attempt forks, so the live attempt owes every message of the turn: they steer into its next
 * model call. Below it, a newer message supersedes the attempt instead.
 */
function messageBound(state: ConversationState, config: CoreConfig, attempt: AttemptState): number {
  const steering =
    attempt.status === 'live' &&
    attempt.turn === state.turn &&
    attemptsInTurn(state) >= config.limits.attemptsPerTurn;
  return steering ? state.seq + 1 : attempt.startedSeq;
}

/** The uncovered messages an attempt must answer. */
function owedMessages(state: ConversationState, bound: number): MessageState[] {
  return state.messages.filter((m) => m.coveredBy === null && m.seq < bound);
}

/**
 * A write past its time bound is recorded as unknown: it may still be in flight, so it keeps the
 * write gates closed (and is upgraded when it settles). Past its hang bound its owner asks the
 * tool's `reconcile`, which fences it.
 */
function boundTools(state: ConversationState, config: CoreConfig, now: number, batch: Batch): boolean {
  for (const effectId of state.effectOrder) {
    const effect = getEffect(state, effectId);
    const { timeoutMs, hangMs } = toolBounds(config, effect.tool);
    if (effect.status === 'running' && now >= effect.startedAt + timeoutMs) {
      batch.push({
        type: 'effect.unknown',
        effectId,
        reason: `still running after ${timeoutMs} ms`,
        cause: 'timeout',
        reconciler: null,
      });
    } else if (inFlightUnchecked(effect) && now >= effect.startedAt + hangMs) {
      const reason = `still running after ${hangMs} ms: asking the tool whether it happened`;
      batch.push({
        type: 'effect.unknown',
        effectId,
        reason,
        cause: 'hang',
        reconciler: effect.owner,
        until: effect.leaseUntil,
      });
    }
  }
  return batch.events.length > 0;
}

/** A write past its time bound that nobody is reconciling yet. */
function inFlightUnchecked(effect: EffectState): boolean {
  return effect.status === 'unknown' && effect.checkBy === null && !effect.checked;
}

/**
 * Requests for approval that end without a person's decision: past their bound they expire, and
 * those of an attempt that was superseded (or failed) before the decision are withdrawn.
 */
function endRequests(state: ConversationState, now: number, batch: Batch): boolean {
  for (const effectId of state.effectOrder) {
    const effect = getEffect(state, effectId);
    if (effect.status !== 'awaiting') continue;
    const status = getAttempt(state, effect.attemptId).status;
    if (status === 'superseded' || status === 'failed')
      batch.push({ type: 'effect.rejected', effectId, cause: 'withdrawn' });
    else if (now >= effect.approval!.expiresAt)
      batch.push({ type: 'effect.rejected', effectId, cause: 'expired' });
  }
  return batch.events.length > 0;
}

/** Withdraws the requests an attempt made that still await a decision; true if there were any. */
function withdrawRequests(state: ConversationState, attemptId: AttemptId, batch: Batch): boolean {
  let withdrawn = false;
  for (const effectId of state.effectOrder) {
    const effect = getEffect(state, effectId);
    if (effect.status !== 'awaiting' || effect.attemptId !== attemptId) continue;
    batch.push({ type: 'effect.rejected', effectId, cause: 'withdrawn' });
    withdrawn = true;
  }
  return withdrawn;
}

/** An effect changed after the bot's last reply (or follow-up) and the head's context does not know it: tell the customer. */
function followUpNeeded(state: ConversationState): boolean {
  const since = Math.max(state.lastCommitSeq, state.lastFollowUpSeq);
  const changed = state.effectOrder.some((id) => {
    const effect = getEffect(state, id);
    return effect.changedSeq > since && effect.status !== 'running';
  });
  if (!changed || state.replies.length === 0) return false;
  return missingEffects(state, knowledgeOf(state, state.head)).some((e) => e.status !== 'running');
}

function followUpsSinceMessage(state: ConversationState): number {
  const since = state.messages.at(-1)?.seq ?? 0;
  let count = 0;
  for (const attempt of state.attempts.values())
    if (attempt.reason === 'follow-up' && attempt.startedSeq > since) count += 1;
  return count;
}

function startAttempt(
  state: ConversationState,
  config: CoreConfig,
  now: number,
  batch: Batch,
  reason: 'message' | 'follow-up',
): void {
  const startedSeq = batch.nextSeq;
  const attemptId = attemptIdAt(startedSeq);
  batch.push({
    type: 'attempt.started',
    attemptId,
    turn: state.turn,
    reason,
    owner: config.instanceId,
    leaseUntil: now + config.limits.leaseMs,
  });
  if (state.modelCallsThisTurn >= config.limits.modelCallsPerTurn) {
    commitFallback(state, config, batch, { attemptId, startedSeq, reason });
    return;
  }
  const parent = chooseFrontier(state);
  const entries = newInput(state, parent, { messagesBeforeSeq: startedSeq, fromFrontier: true });
  if (reason === 'follow-up') entries.push(notes.followUp);
  requestModel(config, batch, attemptId, parent, entries, 'start', parentStateless(state, parent));
}

/**
 * Where a new attempt forks from: the head, or a completed response of this turn that descends
 * from it and whose calls are all answered, holding the most settled effects (ties: the latest).
 */
export function chooseFrontier(state: ConversationState): CallId | null {
  let best: { callId: CallId | null; score: number; seq: number } = {
    callId: state.head,
    score: settledHeld(state, state.head, false),
    seq: 0,
  };
  for (const attempt of state.attempts.values()) {
    if (attempt.turn !== state.turn) continue;
    for (const callId of attempt.calls) {
      const call = getCall(state, callId);
      if (call.status !== 'responded' || !allAnswered(state, call) || !descendsFrom(state, call, state.head))
        continue;
      const score = settledHeld(state, callId, true);
      const seq = call.respondedSeq ?? 0;
      if (score > best.score || (score === best.score && seq > best.seq)) best = { callId, score, seq };
    }
  }
  return best.callId;
}

function settledHeld(state: ConversationState, callId: CallId | null, withAnswers: boolean): number {
  const known = knowledgeOf(state, callId);
  if (withAnswers && callId !== null) {
    for (const entry of answerEntries(state, getCall(state, callId))) {
      if (entry.effect) known.effects.set(entry.effect.effectId, entry.effect.status);
    }
  }
  let count = 0;
  for (const status of known.effects.values()) if (status !== 'running') count += 1;
  return count;
}

function descendsFrom(state: ConversationState, call: ModelCallState, ancestor: CallId | null): boolean {
  if (ancestor === null) return true;
  for (let id: CallId | null = call.callId; id !== null; id = getCall(state, id).parent) {
    if (id === ancestor) return true;
  }
  return false;
}

function parentStateless(state: ConversationState, parent: CallId | null): boolean {
  return parent !== null && getCall(state, parent).stateless;
}

function requestModel(
  config: CoreConfig,
  batch: Batch,
  attemptId: AttemptId,
  parent: CallId | null,
  entries: ContextEntry[],
  reason: ModelCallReason,
  forceStateless: boolean,
): void {
  batch.push({
    type: 'model.requested',
    attemptId,
    callId: callIdAt(batch.nextSeq),
    parent,
    entries,
    reason,
    stateless: config.mode === 'stateless' || forceStateless,
    owner: config.instanceId,
  });
}

/** Moves the live attempt on from where its current model call stands. */
function advance(
  state: ConversationState,
  config: CoreConfig,
  now: number,
  attempt: AttemptState,
  batch: Batch,
): void {
  const callId = attempt.calls.at(-1);
  invariant(callId !== undefined, `live attempt ${attempt.attemptId} has no model call`);
  const call = getCall(state, callId);
  if (call.status === 'pending') restartIfStale(state, config, attempt, call, batch);
  else if (call.status === 'failed') retryOrGiveUp(state, config, now, attempt, call, batch);
  else if (call.toolCalls.length === 0) replyGate(state, config, now, attempt, call, batch);
  else toolGate(state, config, now, attempt, call, batch);
}

/**
 * The restart policy: while the attempt's first model call is in flight, the frontier moved on.
 * Either a write that was running when the call started has settled, or a response of a superseded
 * attempt had its calls answered since (a read that was running when the message arrived answered:
 * forking from it spares the model asking again). Starting again from the new frontier costs less
 * than reaching a gate with a stale context and rebasing, or than reading again.
 */
function restartIfStale(
  state: ConversationState,
  config: CoreConfig,
  attempt: AttemptState,
  call: ModelCallState,
  batch: Batch,
): void {
  if (config.onSettleDuringFirstCall !== 'restart') return;
  if (attempt.calls.some((id) => getCall(state, id).status === 'responded')) return;
  if (state.modelCallsThisTurn >= config.limits.modelCallsPerTurn) return;
  const stale = call.entries.some(
    (e) => e.effect?.status === 'running' && getEffect(state, e.effect.effectId).status !== 'running',
  );
  const parent = chooseFrontier(state);
  if (!stale && !answeredSince(state, call, parent)) return;
  const entries = newInput(state, parent, {
    messagesBeforeSeq: messageBound(state, config, attempt),
    fromFrontier: true,
  });
  if (attempt.reason === 'follow-up') entries.push(notes.followUp);
  requestModel(config, batch, attempt.attemptId, parent, entries, 'restart', parentStateless(state, parent));
}

/**
 * Whether the frontier is now a response with tool calls other than the call's parent: its calls
 * were answered after the call started (a draft reply without calls brings nothing to restart for).
 */
function answeredSince(state: ConversationState, call: ModelCallState, frontier: CallId | null): boolean {
  return frontier !== null && frontier !== call.parent && getCall(state, frontier).toolCalls.length > 0;
}

function retryOrGiveUp(
  state: ConversationState,
  config: CoreConfig,
  now: number,
  attempt: AttemptState,
  call: ModelCallState,
  batch: Batch,
): void {
  const failure = call.failure;
  invariant(failure !== null, `failed call ${call.callId} has no failure`);
  if (failure.kind === 'terminal' || state.modelCallsThisTurn >= config.limits.modelCallsPerTurn) {
    commitFallback(state, config, batch, attempt);
    return;
  }
  const failures = consecutiveFailures(state, attempt);
  if (failure.kind === 'chain-broken') {
    requestModel(
      config,
      batch,
      attempt.attemptId,
      call.parent,
      rebuildEntries(state, config, attempt, call),
      'stateless',
      true,
    );
    return;
  }
  if (failures > config.limits.modelRetries) {
    commitFallback(state, config, batch, attempt);
    return;
  }
  if (now < retryAt(config, call, failures)) return;
  requestModel(
    config,
    batch,
    attempt.attemptId,
    call.parent,
    rebuildEntries(state, config, attempt, call),
    'retry',
    call.stateless,
  );
}

function consecutiveFailures(state: ConversationState, attempt: AttemptState): number {
  let failures = 0;
  for (let i = attempt.calls.length - 1; i >= 0; i -= 1) {
    const failure = getCall(state, attempt.calls[i]!).failure;
    if (failure === null) break;
    if (failure.kind !== 'chain-broken' && failure.kind !== 'takeover') failures += 1;
  }
  return failures;
}

/** When a failed call may be retried: the server's retry-after, or exponential backoff. */
export function retryAt(config: CoreConfig, call: ModelCallState, failures: number): number {
  invariant(call.failure !== null, `call ${call.callId} did not fail`);
  if (call.failure.kind === 'aborted' || call.failure.kind === 'takeover') return call.failure.at;
  const backoff = Math.min(
    config.limits.retryMaxMs,
    config.limits.retryBaseMs * 2 ** Math.max(0, failures - 1),
  );
  return call.failure.at + Math.max(backoff, call.failure.retryAfterMs ?? 0);
}

/** The entries of a retried call: the same purpose as the failed one, with today's grafts. */
function rebuildEntries(
  state: ConversationState,
  config: CoreConfig,
  attempt: AttemptState,
  failed: ModelCallState,
): ContextEntry[] {
  let origin: ModelCallState = failed;
  for (
    let i = attempt.calls.indexOf(failed.callId);
    i > 0 && (origin.reason === 'retry' || origin.reason === 'stateless');
    i -= 1
  ) {
    origin = getCall(state, attempt.calls[i - 1]!);
  }
  const fromFrontier = origin.reason === 'start' || origin.reason === 'restart';
  const entries = newInput(state, failed.parent, {
    messagesBeforeSeq: messageBound(state, config, attempt),
    fromFrontier,
  });
  if (fromFrontier && attempt.reason === 'follow-up') entries.push(notes.followUp);
  if ((origin.reason === 'rebase' || origin.reason === 'steer') && !hasToolCalls(state, failed.parent))
    entries.push(notes.answerAgain);
  return entries;
}

function hasToolCalls(state: ConversationState, callId: CallId | null): boolean {
  return callId !== null && getCall(state, callId).toolCalls.length > 0;
}

/**
 * The reply gate. Only the live attempt gets here. Effects the context lacks → rebase; messages it
 * owes but has not seen (they steered in) → call again with them; a write still running → wait up
 * to the bound, then commit a reply written knowing it runs.
 */
function replyGate(
  state: ConversationState,
  config: CoreConfig,
  now: number,
  attempt: AttemptState,
  call: ModelCallState,
  batch: Batch,
): void {
  const text = outputText(call.output).trim();
  if (text === '') return commitFallback(state, config, batch, attempt);
  const known = knowledgeOf(state, call.callId);
  const bound = messageBound(state, config, attempt);
  const stale = missingEffects(state, known).length > 0;
  const unseen = owedMessages(state, bound).some((m) => !known.messages.has(m.messageId));
  if (stale || unseen) {
    if (!canCallAgain(state, config, attempt, stale)) return commitFallback(state, config, batch, attempt);
    const entries = [
      ...newInput(state, call.callId, { messagesBeforeSeq: bound, fromFrontier: false }),
      notes.answerAgain,
    ];
    requestModel(
      config,
      batch,
      attempt.attemptId,
      call.callId,
      entries,
      stale ? 'rebase' : 'steer',
      call.stateless,
    );
    return;
  }
  if (anyRunning(state) && now < (call.respondedAt ?? now) + config.limits.replyWaitMs) return;
  const covers = owedMessages(state, Number.POSITIVE_INFINITY)
    .filter((m) => known.messages.has(m.messageId))
    .map((m) => m.messageId);
  batch.push({
    type: 'reply.committed',
    attemptId: attempt.attemptId,
    replyId: replyIdAt(batch.nextSeq),
    text,
    covers,
    callId: call.callId,
    kind: attempt.reason === 'follow-up' ? 'follow-up' : 'reply',
    needsHuman: attentionNeeded(state) !== null,
  });
}

/** Whether a write runs now (within its time bound): the reply gate waits a little for it. */
function anyRunning(state: ConversationState): boolean {
  return state.effectOrder.some((id) => getEffect(state, id).status === 'running');
}

function canCallAgain(
  state: ConversationState,
  config: CoreConfig,
  attempt: AttemptState,
  rebase: boolean,
): boolean {
  if (state.modelCallsThisTurn >= config.limits.modelCallsPerTurn) return false;
  return !rebase || attempt.rebases < config.limits.rebasesPerAttempt;
}

type Refusal = { toolCallId: string; reason: RefusalReason; output: string };
export type WriteSpec = {
  toolCallId: string;
  tool: string;
  arguments: string;
  idempotencyKey: IdempotencyKey;
  generation?: number;
  /** The write needs a person's approval, which may take this long: it becomes a request. */
  approvalMs?: number;
};

/** What the write gate decided for all writes of one response. */
export type WriteDecision =
  | { kind: 'wait' }
  | { kind: 'refuse'; refusals: Refusal[] }
  | { kind: 'start'; refusals: Refusal[]; start: WriteSpec[] };

/**
 * The answers to a response's function calls: invalid calls are refused, the writes go through
 * the write gate together, and once every call is answered the model is called again.
 */
function toolGate(
  state: ConversationState,
  config: CoreConfig,
  now: number,
  attempt: AttemptState,
  call: ModelCallState,
  batch: Batch,
): void {
  const refusals: Refusal[] = call.toolCalls
    .filter((t) => t.outcome === null && t.kind === 'invalid')
    .map((t) => ({
      toolCallId: t.toolCallId,
      reason: 'invalid',
      output: JSON.stringify({ error: t.error ?? 'invalid call' }),
    }));
  const writes = call.toolCalls.filter((t) => t.outcome === null && t.kind === 'write');
  const decision: WriteDecision =
    writes.length > 0 ? writeGate(state, config, attempt, call, writes) : { kind: 'wait' };
  if (decision.kind !== 'wait') refusals.push(...decision.refusals);
  if (refusals.length > 0) batch.push({ type: 'tool.refused', callId: call.callId, refusals });
  if (decision.kind === 'start' && decision.start.length > 0) {
    const seq = batch.nextSeq;
    batch.push({
      type: 'effect.started',
      attemptId: attempt.attemptId,
      callId: call.callId,
      owner: config.instanceId,
      leaseUntil: now + config.limits.leaseMs,
      effects: decision.start.map(({ approvalMs, ...s }, i) => ({
        ...s,
        effectId: effectIdAt(seq, i + 1),
        ...(approvalMs === undefined ? {} : { approval: { expiresAt: now + approvalMs } }),
      })),
    });
  }
  if (batch.events.length > 0 || !allAnswered(state, call)) return;
  // A rebase brings effects the context lacked; a call that only brings messages that steered in
  // is a steer, which does not spend the attempt's rebases.
  const bound = messageBound(state, config, attempt);
  const entries = newInput(state, call.callId, { messagesBeforeSeq: bound, fromFrontier: false });
  const refused = call.toolCalls.some((t) => t.outcome?.kind === 'refused' && t.outcome.reason === 'rebase');
  const grafted = entries.some((e) => e.item.type === 'function_call' && e.item.call_id.startsWith('graft_'));
  const steered = entries.some((e) => e.messageId !== undefined);
  const reason: ModelCallReason =
    grafted || (refused && !steered) ? 'rebase' : steered ? 'steer' : 'continue';
  if (!canCallAgain(state, config, attempt, reason === 'rebase'))
    return commitFallback(state, config, batch, attempt);
  requestModel(config, batch, attempt.attemptId, call.callId, entries, reason, call.stateless);
}

/**
 * The write gate (DESIGN.md, "At a write gate"): all write calls of one response, decided
 * together, by DESIGN's five steps in order. Steps 1 to 3 decide for the whole response when they
 * apply; steps 4 and 5 answer call by call. `plan` brings only the live attempt here (step 1 is the
 * gate's own guard); it is exported for its unit tests.
 */
export function writeGate(
  state: ConversationState,
  config: CoreConfig,
  attempt: AttemptState,
  call: ModelCallState,
  writes: ToolCallState[],
): WriteDecision {
  return (
    refuseIfSuperseded(attempt, writes) ??
    waitForWritesInFlight(state, writes) ??
    rebaseIfStale(state, config, attempt, call, writes) ??
    replayOrStart(state, writes)
  );
}

const refuseAll = (writes: ToolCallState[], reason: RefusalReason, output: string): WriteDecision => ({
  kind: 'refuse',
  refusals: writes.map((t) => ({ toolCallId: t.toolCallId, reason, output })),
});

/** Step 1: a superseded attempt runs nothing (it is dead; nothing more is appended for it). */
function refuseIfSuperseded(attempt: AttemptState, writes: ToolCallState[]): WriteDecision | null {
  return attempt.status === 'live' ? null : refuseAll(writes, 'rebase', notices.notExecuted);
}

/**
 * Step 2: a write that may still be in flight — running, past its time bound, or being
 * reconciled — closes every write gate until it settles or `reconcile` fences it. It is never
 * gone past, however slow. A request awaiting approval, and a write that `reconcile` could not
 * settle, stay in the way until a person decides: the writes are refused (so the model can tell
 * the customer).
 */
function waitForWritesInFlight(state: ConversationState, writes: ToolCallState[]): WriteDecision | null {
  const inFlight = state.effectOrder.some((id) => mayBeInFlight(getEffect(state, id)));
  if (inFlight) return { kind: 'wait' };
  // A request waits for a person, which may take hours: the writes are refused at once (the
  // customer is told why), not held until the decision.
  const awaiting = state.effectOrder.map((id) => getEffect(state, id)).find((e) => e.status === 'awaiting');
  if (awaiting) return refuseAll(writes, 'awaiting-approval', notices.awaitingOther(awaiting.tool));
  const blocked = state.effectOrder
    .map((id) => getEffect(state, id))
    .find((e) => e.status === 'unknown' && e.checked);
  return blocked ? refuseAll(writes, 'blocked', notices.blocked(blocked.tool)) : null;
}

/** A write that may still be in flight: running, or of unknown outcome that no check has settled yet. */
function mayBeInFlight(effect: EffectState): boolean {
  return effect.status === 'running' || (effect.status === 'unknown' && !effect.checked);
}

/**
 * Step 3: the context lacks a settled effect (or holds an older status), or a message the
 * attempt owes (one that steered in): rebase — run nothing, tell the model, and let it decide again.
 */
function rebaseIfStale(
  state: ConversationState,
  config: CoreConfig,
  attempt: AttemptState,
  call: ModelCallState,
  writes: ToolCallState[],
): WriteDecision | null {
  const known = knowledgeOf(state, call.callId);
  const unseen = owedMessages(state, messageBound(state, config, attempt)).some(
    (m) => !known.messages.has(m.messageId),
  );
  return missingEffects(state, known).length > 0 || unseen
    ? refuseAll(writes, 'rebase', notices.notExecuted)
    : null;
}

/** Steps 4 and 5, call by call; the refusals keep the order of the calls. */
function replayOrStart(state: ConversationState, writes: ToolCallState[]): WriteDecision {
  const replayed = new Map(writes.map((t) => [t, replayIfRecorded(state, t)]));
  const { start, repeats } = startBatch(
    state,
    writes.filter((t) => replayed.get(t) === null),
  );
  const refusals = writes.flatMap((t) => replayed.get(t) ?? repeats.get(t) ?? []);
  return { kind: 'start', refusals, start };
}

/** The latest run of a write call's key, or null when the key never ran. */
function previousRun(state: ConversationState, t: ToolCallState): EffectState | null {
  invariant(t.idempotencyKey !== undefined, `write call ${t.toolCallId} has no idempotency key`);
  const previousId = state.keys.get(t.idempotencyKey);
  return previousId === undefined ? null : getEffect(state, previousId);
}

/**
 * Step 4: a key that already ran answers with its recorded result, and does not run: done, or of
 * unknown outcome (never re-run blindly). A key whose runs all failed may run again (step 5), and
 * so may one whose result a later run of the same tool overtook.
 */
function replayIfRecorded(state: ConversationState, t: ToolCallState): Refusal | null {
  const previous = previousRun(state, t);
  return previous && previous.status !== 'failed' && !overtaken(state, previous)
    ? { toolCallId: t.toolCallId, reason: 'duplicate-key', output: effectOutput(previous) }
    : null;
}

/**
 * Whether a later run of the same tool (under another key) has been done since this one: its
 * recorded result is then no longer the tool's last word. A tool that sets a whole state (an
 * order's complete item list) asked for A, then B, then A again in one turn gives the third call
 * the first one's key; replaying the first result would tell the model the state is A while it is
 * B. The asking context holds both runs and their outcomes (steps 2 and 3 saw to it), so the call
 * is no blind repeat but a new request: it runs under a new generation of its key.
 */
function overtaken(state: ConversationState, previous: EffectState): boolean {
  for (let i = state.effectOrder.length - 1; i >= 0; i -= 1) {
    const effect = getEffect(state, state.effectOrder[i]!);
    if (effect.effectId === previous.effectId) return false;
    if (effect.tool === previous.tool && effect.status === 'done') return true;
  }
  return false;
}

/**
 * Step 5: the other writes start, as one batch (one `effect started` appended at the expected
 * seq). A key repeated within the response runs once; a key whose runs all failed runs under a
 * new generation of its key.
 */
function startBatch(
  state: ConversationState,
  writes: ToolCallState[],
): { start: WriteSpec[]; repeats: Map<ToolCallState, Refusal> } {
  const start: WriteSpec[] = [];
  const repeats = new Map<ToolCallState, Refusal>();
  const keys = new Set<IdempotencyKey>();
  for (const t of writes) {
    const previous = previousRun(state, t);
    const key = t.idempotencyKey!;
    if (keys.has(key)) {
      repeats.set(t, { toolCallId: t.toolCallId, reason: 'duplicate-call', output: notices.duplicateCall });
      continue;
    }
    keys.add(key);
    const generation = (previous?.generation ?? 0) + 1;
    start.push({
      toolCallId: t.toolCallId,
      tool: t.name,
      arguments: t.arguments,
      idempotencyKey: generationKey(key, generation),
      ...(generation > 1 ? { generation } : {}),
      ...(t.approval ? { approvalMs: t.approval.timeoutMs } : {}),
    });
  }
  return { start, repeats };
}

/** The fallback reply: the customer is never left without an answer, and a human is asked to look. */
function commitFallback(
  state: ConversationState,
  config: CoreConfig,
  batch: Batch,
  attempt: Pick<AttemptState, 'attemptId' | 'startedSeq' | 'reason'> & Partial<AttemptState>,
): void {
  const bound =
    attempt.status === undefined ? attempt.startedSeq : messageBound(state, config, attempt as AttemptState);
  const covers = owedMessages(state, bound).map((m) => m.messageId);
  if (covers.length === 0) {
    batch.push({
      type: 'attempt.failed',
      attemptId: attempt.attemptId,
      reason: 'no reply could be produced',
    });
    return;
  }
  batch.push({
    type: 'reply.committed',
    attemptId: attempt.attemptId,
    replyId: replyIdAt(batch.nextSeq),
    text: config.fallbackText,
    covers,
    callId: null,
    kind: 'fallback',
    needsHuman: true,
  });
}

/** The I/O the state asks for. The shell runs each once, however often it is asked. */
function io(state: ConversationState, config: CoreConfig, now: number): Command[] {
  const commands: Command[] = [];
  const live = state.live === null ? null : (state.attempts.get(state.live) ?? null);
  for (const call of state.calls.values()) {
    if (call.status !== 'pending') continue;
    const current = live !== null && live.attemptId === call.attemptId && live.calls.at(-1) === call.callId;
    if (!current) commands.push({ type: 'abort-model', callId: call.callId });
    else if (call.owner === config.instanceId)
      commands.push({ type: 'call-model', callId: call.callId, request: buildRequest(state, config, call) });
  }
  // The reads of the current call are run by whoever owns the attempt now: a claim moves the
  // attempt, not the call, and a read may run twice (its answer is appended once).
  const current = live ? getCall(state, live.calls.at(-1)!) : null;
  if (live && current?.status === 'responded' && live.owner === config.instanceId) {
    for (const t of current.toolCalls) {
      if (t.outcome !== null || t.kind !== 'read') continue;
      commands.push({
        type: 'run-read',
        tool: t.name,
        arguments: t.arguments,
        origin: callOrigin(state, live, current.callId, t.toolCallId),
      });
    }
  }
  for (const effectId of state.effectOrder) {
    const effect = getEffect(state, effectId);
    if (effect.status !== 'running' || effect.owner !== config.instanceId) continue;
    const attempt = state.attempts.get(effect.attemptId)!;
    commands.push({
      type: 'run-write',
      effectId,
      tool: effect.tool,
      arguments: effect.arguments,
      idempotencyKey: effect.idempotencyKey,
      origin: callOrigin(state, attempt, effect.callId, effect.toolCallId),
    });
  }
  for (const effect of state.effects.values()) {
    if (effect.status !== 'unknown' || effect.checkBy !== config.instanceId || effect.checked) continue;
    const attempt = getAttempt(state, effect.attemptId);
    const origin = callOrigin(state, attempt, effect.callId, effect.toolCallId);
    commands.push({
      type: 'reconcile',
      effectId: effect.effectId,
      tool: effect.tool,
      idempotencyKey: effect.idempotencyKey,
      origin,
    });
  }
  for (const reply of state.replies) {
    if (awaitingDelivery(reply) && deliversReply(state, config, reply, now)) {
      commands.push({
        type: 'deliver',
        replyId: reply.replyId,
        text: reply.text,
        covers: reply.covers,
        kind: reply.kind,
      });
    }
  }
  return commands;
}

/**
 * Who delivers a committed reply: the instance that owned its attempt, until that lease runs out;
 * then any instance (the owner may have died before delivering). Delivery is at least once.
 */
function deliversReply(
  state: ConversationState,
  config: CoreConfig,
  reply: ConversationState['replies'][number],
  now: number,
): boolean {
  const attempt = reply.attemptId === null ? undefined : state.attempts.get(reply.attemptId);
  return attempt === undefined || attempt.owner === config.instanceId || now >= attempt.leaseUntil;
}

/** The earliest time at which the state is waiting for the clock (not for an event), or null. */
function wakeAt(state: ConversationState, config: CoreConfig, now: number): number | null {
  const times: number[] = [];
  const leaseCheck = (owner: string, leaseUntil: number) =>
    owner === config.instanceId ? leaseUntil - config.limits.leaseMs / 2 : leaseUntil;
  for (const effectId of state.effectOrder) {
    const effect = getEffect(state, effectId);
    const { timeoutMs, hangMs } = toolBounds(config, effect.tool);
    if (effect.status === 'running') times.push(effect.startedAt + timeoutMs);
    if (inFlightUnchecked(effect)) times.push(effect.startedAt + hangMs);
    if (leased(effect)) times.push(leaseCheck(effect.owner, effect.leaseUntil));
    if (effect.status === 'awaiting') times.push(effect.approval!.expiresAt);
  }
  for (const reply of state.replies) {
    const attempt =
      awaitingDelivery(reply) && reply.attemptId !== null ? state.attempts.get(reply.attemptId) : undefined;
    if (attempt && attempt.owner !== config.instanceId && now < attempt.leaseUntil)
      times.push(attempt.leaseUntil);
  }
  const live = state.live === null ? null : (state.attempts.get(state.live) ?? null);
  if (live) times.push(leaseCheck(live.owner, live.leaseUntil));
  // Only the owner moves the attempt on: another instance waking for its retry or its reply wait
  // would find nothing to do, and wake again at once (a busy loop until the owner acts).
  const call = live && live.owner === config.instanceId ? getCall(state, live.calls.at(-1)!) : null;
  if (live && call?.status === 'failed' && call.failure?.kind !== 'terminal') {
    times.push(retryAt(config, call, consecutiveFailures(state, live)));
  }
  if (call?.status === 'responded' && call.toolCalls.length === 0 && anyRunning(state)) {
    times.push((call.respondedAt ?? 0) + config.limits.replyWaitMs);
  }
  return times.length === 0 ? null : Math.min(...times);
}

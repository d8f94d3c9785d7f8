import type { Command } from './commands.js';
import type { CoreConfig } from './config.js';
import type { ContextEntry, EventBody, ModelCallReason, RefusalReason } from './events.js';
import { invariant } from './errors.js';
import type { AttemptId, CallId, IdempotencyKey } from './ids.js';
import { attemptIdAt, callIdAt, effectIdAt, replyIdAt } from './ids.js';
import { outputText } from './items.js';
import {
  allAnswered,
  answerEntries,
  knowledgeOf,
  missingEffects,
  newInput,
  notes,
  notices,
} from './context.js';
import type { AttemptState, ConversationState, ModelCallState } from './state.js';
import { getAttempt, getCall, getEffect, leased } from './state.js';
import { buildRequest, callOrigin } from './request.js';

/**
 * The decisions of one moment: events to append (the gate) or, when there are none, the I/O the
 * state asks for. `now` is the caller's clock reading; nothing here reads a clock.
 */
export function plan(state: ConversationState, config: CoreConfig, now: number): Command[] {
  const batch = new Batch(state);
  decideNext(state, config, Math.max(now, state.now), batch);
  if (batch.events.length > 0) return [{ type: 'append', events: batch.events }];
  return [...io(state, config), ...wake(state, config)];
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
  if (timeOutTools(state, config, now, batch) || keepLeases(state, config, now, batch)) return;
  const live = state.live === null ? null : state.attempts.get(state.live) ?? null;
  const waiting = state.messages.filter((m) => m.coveredBy === null);
  if (live) {
    const newer = waiting.filter((m) => m.seq > live.startedSeq);
    const last = newer.at(-1);
    if (last && attemptsInTurn(state) < config.limits.attemptsPerTurn) {
      batch.push({ type: 'attempt.superseded', attemptId: live.attemptId, byMessageId: last.messageId });
      startAttempt(state, config, now, batch, 'message');
      return;
    }
    // Only the owner moves an attempt on; the others watch its lease.
    if (live.owner === config.instanceId) advance(state, config, now, live, batch);
    return;
  }
  if (waiting.length > 0) startAttempt(state, config, now, batch, 'message');
  else if (followUpNeeded(state)) startAttempt(state, config, now, batch, 'follow-up');
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
      const reason = effect.status === 'running' ? `owner ${effect.owner} lost its lease` : `reconciler ${effect.owner} lost its lease`;
      batch.push({ type: 'effect.unknown', effectId: effect.effectId, reason, cause: 'owner-lost', reconciler: me, until });
    }
  }
  if (batch.events.length > 0) return true;
  const renewAt = (leaseUntil: number) => leaseUntil - config.limits.leaseMs / 2;
  const attempts = live && live.owner === me && now >= renewAt(live.leaseUntil) ? [live.attemptId] : [];
  const effects = [...state.effects.values()].filter((e) => leased(e) && e.owner === me && now >= renewAt(e.leaseUntil)).map((e) => e.effectId);
  if (attempts.length === 0 && effects.length === 0) return false;
  batch.push({ type: 'lease.renewed', owner: me, until, attempts, effects });
  return true;
}

function attemptsInTurn(state: ConversationState): number {
  let count = 0;
  for (const attempt of state.attempts.values()) if (attempt.turn === state.turn) count += 1;
  return count;
}

/** A write that runs past the tool-time bound is recorded as unknown (and upgraded when it settles). */
function timeOutTools(state: ConversationState, config: CoreConfig, now: number, batch: Batch): boolean {
  for (const effectId of state.effectOrder) {
    const effect = getEffect(state, effectId);
    if (effect.status === 'running' && now >= effect.startedAt + config.limits.toolTimeoutMs) {
      batch.push({ type: 'effect.unknown', effectId, reason: `still running after ${config.limits.toolTimeoutMs} ms`, cause: 'timeout', reconciler: null });
    }
  }
  return batch.events.length > 0;
}

/** An effect changed after the last reply and the head's context does not know it: tell the customer. */
function followUpNeeded(state: ConversationState): boolean {
  const since = Math.max(state.lastCommitSeq, state.lastFollowUpSeq);
  const changed = state.effectOrder.some((id) => {
    const effect = getEffect(state, id);
    return effect.changedSeq > since && effect.status !== 'running';
  });
  if (!changed || state.replies.length === 0) return false;
  return missingEffects(state, knowledgeOf(state, state.head)).some((e) => e.status !== 'running');
}

function startAttempt(state: ConversationState, config: CoreConfig, now: number, batch: Batch, reason: 'message' | 'follow-up'): void {
  const startedSeq = batch.nextSeq;
  const attemptId = attemptIdAt(startedSeq);
  batch.push({ type: 'attempt.started', attemptId, turn: state.turn, reason, owner: config.instanceId, leaseUntil: now + config.limits.leaseMs });
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
      if (call.status !== 'responded' || !allAnswered(state, call) || !descendsFrom(state, call, state.head)) continue;
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
function advance(state: ConversationState, config: CoreConfig, now: number, attempt: AttemptState, batch: Batch): void {
  const callId = attempt.calls.at(-1);
  invariant(callId !== undefined, `live attempt ${attempt.attemptId} has no model call`);
  const call = getCall(state, callId);
  if (call.status === 'pending') restartIfStale(state, config, attempt, call, batch);
  else if (call.status === 'failed') retryOrGiveUp(state, config, now, attempt, call, batch);
  else if (call.toolCalls.length === 0) replyGate(state, config, now, attempt, call, batch);
  else toolGate(state, config, now, attempt, call, batch);
}

/**
 * The restart policy: a write that was running when the attempt's first model call started has
 * settled while the call is in flight. Starting again from the new frontier costs less than
 * reaching a gate with a stale context and rebasing.
 */
function restartIfStale(state: ConversationState, config: CoreConfig, attempt: AttemptState, call: ModelCallState, batch: Batch): void {
  if (config.onSettleDuringFirstCall !== 'restart') return;
  if (attempt.calls.some((id) => getCall(state, id).status === 'responded')) return;
  if (state.modelCallsThisTurn >= config.limits.modelCallsPerTurn) return;
  const stale = call.entries.some((e) => e.effect?.status === 'running' && getEffect(state, e.effect.effectId).status !== 'running');
  if (!stale) return;
  const parent = chooseFrontier(state);
  const entries = newInput(state, parent, { messagesBeforeSeq: attempt.startedSeq, fromFrontier: true });
  if (attempt.reason === 'follow-up') entries.push(notes.followUp);
  requestModel(config, batch, attempt.attemptId, parent, entries, 'restart', parentStateless(state, parent));
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
    requestModel(config, batch, attempt.attemptId, call.parent, rebuildEntries(state, attempt, call), 'stateless', true);
    return;
  }
  if (failures > config.limits.modelRetries) {
    commitFallback(state, config, batch, attempt);
    return;
  }
  if (now < retryAt(config, call, failures)) return;
  requestModel(config, batch, attempt.attemptId, call.parent, rebuildEntries(state, attempt, call), 'retry', call.stateless);
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
  const backoff = Math.min(config.limits.retryMaxMs, config.limits.retryBaseMs * 2 ** Math.max(0, failures - 1));
  return call.failure.at + Math.max(backoff, call.failure.retryAfterMs ?? 0);
}

/** The entries of a retried call: the same purpose as the failed one, with today's grafts. */
function rebuildEntries(state: ConversationState, attempt: AttemptState, failed: ModelCallState): ContextEntry[] {
  let origin: ModelCallState = failed;
  for (let i = attempt.calls.indexOf(failed.callId); i > 0 && (origin.reason === 'retry' || origin.reason === 'stateless'); i -= 1) {
    origin = getCall(state, attempt.calls[i - 1]!);
  }
  const fromFrontier = origin.reason === 'start' || origin.reason === 'restart';
  const entries = newInput(state, failed.parent, { messagesBeforeSeq: attempt.startedSeq, fromFrontier });
  if (fromFrontier && attempt.reason === 'follow-up') entries.push(notes.followUp);
  if (origin.reason === 'rebase' && !hasToolCalls(state, failed.parent)) entries.push(notes.answerAgain);
  return entries;
}

function hasToolCalls(state: ConversationState, callId: CallId | null): boolean {
  return callId !== null && getCall(state, callId).toolCalls.length > 0;
}

/**
 * The reply gate. Only the live attempt gets here. Effects the context lacks → rebase; a write
 * still running → wait up to the bound, then commit a reply written knowing it runs.
 */
function replyGate(state: ConversationState, config: CoreConfig, now: number, attempt: AttemptState, call: ModelCallState, batch: Batch): void {
  const known = knowledgeOf(state, call.callId);
  const missing = missingEffects(state, known);
  const stale = missing.filter((e) => e.status !== 'running' || !known.effects.has(e.effectId));
  const text = outputText(call.output).trim();
  if (text === '') {
    commitFallback(state, config, batch, attempt);
    return;
  }
  if (stale.length > 0) {
    if (!canCallAgain(state, config, attempt, true)) return commitFallback(state, config, batch, attempt);
    const entries = [...newInput(state, call.callId, { messagesBeforeSeq: attempt.startedSeq, fromFrontier: false }), notes.answerAgain];
    requestModel(config, batch, attempt.attemptId, call.callId, entries, 'rebase', call.stateless);
    return;
  }
  const running = state.effectOrder.some((id) => getEffect(state, id).status === 'running');
  if (running && now < (call.respondedAt ?? now) + config.limits.replyWaitMs) return;
  const covers = state.messages.filter((m) => m.coveredBy === null && known.messages.has(m.messageId)).map((m) => m.messageId);
  const owed = state.messages.filter((m) => m.coveredBy === null && m.seq < attempt.startedSeq);
  invariant(owed.every((m) => known.messages.has(m.messageId)), `attempt ${attempt.attemptId} would commit without a message it owes`);
  batch.push({
    type: 'reply.committed',
    attemptId: attempt.attemptId,
    replyId: replyIdAt(batch.nextSeq),
    text,
    covers,
    callId: call.callId,
    kind: attempt.reason === 'follow-up' ? 'follow-up' : 'reply',
    needsHuman: false,
  });
}

function canCallAgain(state: ConversationState, config: CoreConfig, attempt: AttemptState, rebase: boolean): boolean {
  if (state.modelCallsThisTurn >= config.limits.modelCallsPerTurn) return false;
  return !rebase || attempt.rebases < config.limits.rebasesPerAttempt;
}

/**
 * The write gate and the answers to a response's function calls. All writes of one response are
 * gated together: they wait while any write runs, rebase when the context lacks a settled effect,
 * return the recorded result for a key that already ran, and otherwise start as one batch.
 */
function toolGate(state: ConversationState, config: CoreConfig, now: number, attempt: AttemptState, call: ModelCallState, batch: Batch): void {
  const refusals: { toolCallId: string; reason: RefusalReason; output: string }[] = [];
  for (const t of call.toolCalls) {
    if (t.outcome === null && t.kind === 'invalid') {
      refusals.push({ toolCallId: t.toolCallId, reason: 'invalid', output: JSON.stringify({ error: t.error ?? 'invalid call' }) });
    }
  }
  const writes = call.toolCalls.filter((t) => t.outcome === null && t.kind === 'write');
  const anyRunning = state.effectOrder.some((id) => getEffect(state, id).status === 'running');
  if (writes.length > 0 && !anyRunning) {
    const missing = missingEffects(state, knowledgeOf(state, call.callId));
    if (missing.length > 0) {
      for (const t of writes) refusals.push({ toolCallId: t.toolCallId, reason: 'rebase', output: notices.notExecuted });
    } else {
      gateWrites(state, config, now, attempt, call, writes, refusals, batch);
      return;
    }
  }
  if (refusals.length > 0) {
    batch.push({ type: 'tool.refused', callId: call.callId, refusals });
    return;
  }
  if (!allAnswered(state, call)) return;
  const rebase = call.toolCalls.some((t) => t.outcome?.kind === 'refused' && t.outcome.reason === 'rebase');
  if (!canCallAgain(state, config, attempt, rebase)) return commitFallback(state, config, batch, attempt);
  const entries = newInput(state, call.callId, { messagesBeforeSeq: attempt.startedSeq, fromFrontier: false });
  requestModel(config, batch, attempt.attemptId, call.callId, entries, rebase ? 'rebase' : 'continue', call.stateless);
}

function gateWrites(
  state: ConversationState,
  config: CoreConfig,
  now: number,
  attempt: AttemptState,
  call: ModelCallState,
  writes: ModelCallState['toolCalls'],
  refusals: { toolCallId: string; reason: RefusalReason; output: string }[],
  batch: Batch,
): void {
  const toStart: { toolCallId: string; tool: string; arguments: string; idempotencyKey: IdempotencyKey }[] = [];
  for (const t of writes) {
    invariant(t.idempotencyKey !== undefined, `write call ${t.toolCallId} has no idempotency key`);
    const previous = state.keys.get(t.idempotencyKey);
    const ran = previous === undefined ? null : getEffect(state, previous);
    if (ran && ran.status !== 'failed') {
      refusals.push({ toolCallId: t.toolCallId, reason: 'duplicate-key', output: ran.status === 'done' ? ran.output ?? '' : notices.unknown });
    } else if (toStart.some((s) => s.idempotencyKey === t.idempotencyKey)) {
      refusals.push({ toolCallId: t.toolCallId, reason: 'duplicate-call', output: notices.duplicateCall });
    } else {
      toStart.push({ toolCallId: t.toolCallId, tool: t.name, arguments: t.arguments, idempotencyKey: t.idempotencyKey });
    }
  }
  if (refusals.length > 0) batch.push({ type: 'tool.refused', callId: call.callId, refusals });
  if (toStart.length > 0) {
    const seq = batch.nextSeq;
    batch.push({
      type: 'effect.started',
      attemptId: attempt.attemptId,
      callId: call.callId,
      owner: config.instanceId,
      leaseUntil: now + config.limits.leaseMs,
      effects: toStart.map((s, i) => ({ ...s, effectId: effectIdAt(seq, i + 1) })),
    });
  }
}

/** The fallback reply: the customer is never left without an answer, and a human is asked to look. */
function commitFallback(
  state: ConversationState,
  config: CoreConfig,
  batch: Batch,
  attempt: Pick<AttemptState, 'attemptId' | 'startedSeq' | 'reason'>,
): void {
  const covers = state.messages.filter((m) => m.coveredBy === null && m.seq < attempt.startedSeq).map((m) => m.messageId);
  if (covers.length === 0) {
    batch.push({ type: 'attempt.failed', attemptId: attempt.attemptId, reason: 'no reply could be produced' });
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
function io(state: ConversationState, config: CoreConfig): Command[] {
  const commands: Command[] = [];
  const live = state.live === null ? null : state.attempts.get(state.live) ?? null;
  for (const call of state.calls.values()) {
    if (call.status !== 'pending') continue;
    const current = live !== null && live.attemptId === call.attemptId && live.calls.at(-1) === call.callId;
    if (!current) commands.push({ type: 'abort-model', callId: call.callId });
    else if (call.owner === config.instanceId) commands.push({ type: 'call-model', callId: call.callId, request: buildRequest(state, config, call) });
  }
  // The reads of the current call are run by whoever owns the attempt now: a claim moves the
  // attempt, not the call, and a read may run twice (its answer is appended once).
  const current = live ? getCall(state, live.calls.at(-1)!) : null;
  if (live && current?.status === 'responded' && live.owner === config.instanceId) {
    for (const t of current.toolCalls) {
      if (t.outcome !== null || t.kind !== 'read') continue;
      commands.push({ type: 'run-read', tool: t.name, arguments: t.arguments, origin: callOrigin(state, live, current.callId, t.toolCallId) });
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
    commands.push({ type: 'reconcile', effectId: effect.effectId, tool: effect.tool, idempotencyKey: effect.idempotencyKey, origin });
  }
  for (const reply of state.replies) {
    if (reply.deliveredAt === null) commands.push({ type: 'deliver', replyId: reply.replyId, text: reply.text, covers: reply.covers, kind: reply.kind });
  }
  return commands;
}

/** The earliest time at which the state is waiting for the clock (not for an event). */
function wake(state: ConversationState, config: CoreConfig): Command[] {
  const times: number[] = [];
  const leaseCheck = (owner: string, leaseUntil: number) =>
    owner === config.instanceId ? leaseUntil - config.limits.leaseMs / 2 : leaseUntil;
  for (const effectId of state.effectOrder) {
    const effect = getEffect(state, effectId);
    if (effect.status === 'running') times.push(effect.startedAt + config.limits.toolTimeoutMs);
    if (leased(effect)) times.push(leaseCheck(effect.owner, effect.leaseUntil));
  }
  const live = state.live === null ? null : state.attempts.get(state.live) ?? null;
  if (live) times.push(leaseCheck(live.owner, live.leaseUntil));
  const call = live ? getCall(state, live.calls.at(-1)!) : null;
  if (live && call?.status === 'failed' && call.failure?.kind !== 'terminal') {
    times.push(retryAt(config, call, consecutiveFailures(state, live)));
  }
  const anyRunning = state.effectOrder.some((id) => getEffect(state, id).status === 'running');
  if (call?.status === 'responded' && call.toolCalls.length === 0 && anyRunning) {
    times.push((call.respondedAt ?? 0) + config.limits.replyWaitMs);
  }
  return times.length === 0 ? [] : [{ type: 'wake', at: Math.min(...times) }];
}

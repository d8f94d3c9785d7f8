import type { GraftEvent } from '../core/events.js';
import type { ConversationState } from '../core/state.js';
import type { OperatorAct } from './recorder.js';
import type { ToolInvocation, ReconcileRecord } from './tool-log.js';

/**
 * How often the adversarial world drove graft down each of the paths it exists to exercise. A
 * world that never times a write out, never takes a lease over or never fences a late run proves
 * nothing about those paths, so a run where a required counter is 0 fails.
 */
export interface Coverage {
  /** Follow-up attempts: an effect settled after its turn's reply. */
  followUps: number;
  /** Writes past their time bound (`effect.unknown`, cause `timeout`). */
  timeouts: number;
  /** Writes past their hang bound (cause `hang`). */
  hangs: number;
  /** Live attempts taken over from an owner whose lease expired (`lease.claimed`). */
  takeovers: number;
  /** Writes handed to `reconcile` (`effect.unknown` with a reconciler). */
  reconciles: number;
  /** Late runs the shop refused because `reconcile` had fenced their key (the tools' own log). */
  fencedLateRuns: number;
  /** Model calls of messages that steered into the live attempt (reason `steer`). */
  steered: number;
  rebases: number;
  restarts: number;
  /** Running writes whose owner was lost (cause `owner-lost`). Informational. */
  ownerLost: number;
  /**
   * Settles recorded after their effect had settled differently (`late: true`). Informational: a
   * late run can settle differently only when the tool's fence failed, and this world's tools fence
   * (a stalled owner's late run is refused, and settles as failed, as the fence already said).
   */
  lateSettles: number;
  /** Reconciles asked while a run under the same key was still in flight. Informational. */
  reconcilesInFlight: number;
  /** Writes that became requests for approval (`effect.started` with `approval`). */
  approvalRequests: number;
  /** Requests a person approved (`effect.approved`): the write then ran. */
  approved: number;
  /**
   * Of those, approved while the person had the conversation taken over (their own act: allowed).
   * Informational: a request rarely still waits when its conversation is taken over (tens in
   * 2,000 conversations).
   */
  approvedDuringTakeover: number;
  /** Requests a person rejected (`effect.rejected`, cause `rejected`). */
  rejected: number;
  /** Requests nobody decided in time (cause `expired`). */
  expired: number;
  /** Requests whose attempt was superseded before the decision (cause `withdrawn`). */
  withdrawn: number;
  /** The operator's decisions on a request no longer pending, refused with `request_not_pending`. */
  lateDecisionsRefused: number;
  /** Conversations taken over by a person (`conversation.taken-over`). */
  operatorTakeovers: number;
  /** Takeovers that landed while a write ran. */
  takeoversDuringWrite: number;
  /** Takeovers that landed while a model call was in flight (it is aborted). */
  takeoversDuringModelCall: number;
  /** Replies a person sent (`reply.committed` of kind `operator`). */
  operatorReplies: number;
  /** The person's replies after the release, refused with `not_taken_over`. */
  lateRepliesRefused: number;
  /** Customer messages received while a person had the conversation. */
  messagesDuringTakeover: number;
}

/** The counters that must be above 0 in an adversarial run of the documented size. */
export const REQUIRED_COVERAGE = [
  'followUps',
  'timeouts',
  'hangs',
  'takeovers',
  'reconciles',
  'fencedLateRuns',
  'steered',
  'rebases',
  'restarts',
  'approvalRequests',
  'approved',
  'rejected',
  'expired',
  'withdrawn',
  'lateDecisionsRefused',
  'operatorTakeovers',
  'takeoversDuringWrite',
  'takeoversDuringModelCall',
  'operatorReplies',
  'lateRepliesRefused',
  'messagesDuringTakeover',
] as const satisfies readonly (keyof Coverage)[];

/** Below this many conversations the world may not reach every path, and coverage is not required. */
export const COVERAGE_MIN_CONVERSATIONS = 2_000;

export function emptyCoverage(): Coverage {
  return {
    followUps: 0,
    timeouts: 0,
    hangs: 0,
    takeovers: 0,
    reconciles: 0,
    fencedLateRuns: 0,
    steered: 0,
    rebases: 0,
    restarts: 0,
    ownerLost: 0,
    lateSettles: 0,
    reconcilesInFlight: 0,
    approvalRequests: 0,
    approved: 0,
    approvedDuringTakeover: 0,
    rejected: 0,
    expired: 0,
    withdrawn: 0,
    lateDecisionsRefused: 0,
    operatorTakeovers: 0,
    takeoversDuringWrite: 0,
    takeoversDuringModelCall: 0,
    operatorReplies: 0,
    lateRepliesRefused: 0,
    messagesDuringTakeover: 0,
  };
}

/**
 * Counts what one event of graft's log shows (each event once, however many instances fold it),
 * with the state right after it.
 */
export function countEvent(coverage: Coverage, event: GraftEvent, state: ConversationState): void {
  switch (event.type) {
    case 'attempt.started':
      if (event.reason === 'follow-up') coverage.followUps += 1;
      return;
    case 'effect.unknown':
      if (event.cause === 'timeout') coverage.timeouts += 1;
      if (event.cause === 'hang') coverage.hangs += 1;
      if (event.cause === 'owner-lost') coverage.ownerLost += 1;
      if (event.reconciler !== null) coverage.reconciles += 1;
      return;
    case 'lease.claimed':
      coverage.takeovers += 1;
      return;
    case 'model.requested':
      if (event.reason === 'steer') coverage.steered += 1;
      if (event.reason === 'rebase') coverage.rebases += 1;
      if (event.reason === 'restart') coverage.restarts += 1;
      return;
    case 'effect.settled':
      if (event.late === true) coverage.lateSettles += 1;
      return;
    case 'effect.started':
      for (const effect of event.effects) if (effect.approval) coverage.approvalRequests += 1;
      return;
    case 'effect.approved':
      coverage.approved += 1;
      if (state.takenOver !== null) coverage.approvedDuringTakeover += 1;
      return;
    case 'effect.rejected':
      coverage[event.cause] += 1;
      return;
    case 'reply.committed':
      if (event.kind === 'operator') coverage.operatorReplies += 1;
      return;
    case 'message.received':
      if (state.takenOver !== null) coverage.messagesDuringTakeover += 1;
      return;
    case 'conversation.taken-over':
      countTakeover(coverage, state);
      return;
    default:
      return;
  }
}

/** A takeover, and what it landed on: the fold leaves running writes and the aborted call as they were. */
function countTakeover(coverage: Coverage, state: ConversationState): void {
  coverage.operatorTakeovers += 1;
  if ([...state.effects.values()].some((e) => e.status === 'running')) coverage.takeoversDuringWrite += 1;
  if ([...state.calls.values()].some((c) => c.status === 'pending')) coverage.takeoversDuringModelCall += 1;
}

/** Counts what the tools' own log shows, and the operator's refused late acts. */
export function countToolLog(
  coverage: Coverage,
  invocations: readonly ToolInvocation[],
  reconciles: readonly ReconcileRecord[],
  acts: readonly OperatorAct[] = [],
): void {
  for (const invocation of invocations) if (invocation.fenced) coverage.fencedLateRuns += 1;
  for (const reconcile of reconciles) if (reconcile.inFlight) coverage.reconcilesInFlight += 1;
  for (const act of acts) {
    if (act.kind === 'decide' && act.outcome === 'request_not_pending') coverage.lateDecisionsRefused += 1;
    if (act.kind === 'reply' && act.outcome === 'not_taken_over') coverage.lateRepliesRefused += 1;
  }
}

export function addCoverage(total: Coverage, one: Coverage): void {
  for (const key of Object.keys(total) as (keyof Coverage)[]) total[key] += one[key];
}

/** The required counters that are 0, in a run large enough that none may be (smaller runs may miss a path). */
export function missingCoverage(coverage: Coverage, conversations: number): (keyof Coverage)[] {
  if (conversations < COVERAGE_MIN_CONVERSATIONS) return [];
  return REQUIRED_COVERAGE.filter((key) => coverage[key] === 0);
}

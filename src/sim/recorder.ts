import type { EffectStatus, RejectionCause, ReplyKind } from '../core/events.js';
import type { Coverage } from './coverage.js';
import type { ReconcileRecord, ToolInvocation } from './tool-log.js';

/**
 * What the simulator observes of one conversation, whatever the strategy: the customer's
 * messages, every model call with the effects its context held, every tool run, every reply.
 * Metrics and the invariant checker read only this.
 */
export interface ConversationRecord {
  conversationId: string;
  messages: { id: string; text: string; at: number; op: number; contended: boolean }[];
  calls: ModelCallRecord[];
  effects: EffectRecord[];
  replies: ReplyRecord[];
  /** The adversarial tools' own log of write invocations: the ground truth the checker trusts. */
  invocations: ToolInvocation[];
  reconciles: ReconcileRecord[];
  /** What graft's log showed of the paths the adversarial world means to exercise (null elsewhere). */
  coverage: Coverage | null;
  /** Errors graft reported through `onError` (the adversarial world records them instead of crashing). */
  errors: string[];
  /** When graft decided to run each write (its `effect.started`), by tool call id: the op of that decision. */
  writeDecisions: Map<string, number>;
  /**
   * Approvals and takeovers, where the world has humans in the loop (graft in the adversarial
   * world); absent elsewhere.
   */
  humans?: HumanRecord;
}

/**
 * What the humans in the loop did and what graft's log shows of it: the requests for approval and
 * their decisions, the events the takeover rules read, and the simulated operator's own acts.
 */
export interface HumanRecord {
  /** The tools whose writes need a person's approval in this world. */
  approvalTools: readonly string[];
  /** How long a request waits for a decision in this conversation. */
  approvalTimeoutMs: number;
  /** How far apart two instances' clocks may read (twice the largest skew): graft's times are theirs. */
  clockSpreadMs: number;
  /** Every request for approval, by effect id, in the order they were made. */
  requests: Map<string, RequestRecord>;
  /** The seq of the `effect.started` of every effect, requests included, by effect id. */
  started: Map<string, number>;
  /**
   * When each attempt stopped being live without committing (superseded by a message or a takeover,
   * or failed): the seq of that event, by attempt id.
   */
  attemptEnds: Map<string, number>;
  /** The events of graft's log that the takeover rules read, in seq order. */
  log: HumanLogEntry[];
  /** The operator's acts through graft's API, in the order they were started. */
  acts: OperatorAct[];
}

export interface RequestRecord {
  effectId: string;
  /** The attempt that made the request: if it stops being live first, the request is withdrawn. */
  attemptId: string;
  toolCallId: string;
  tool: string;
  /** The idempotency key the write runs under once approved. */
  key: string;
  seq: number;
  op: number;
  /** Until when it may wait for a decision (graft's time, ms). */
  expiresAt: number;
  /**
   * How it ended (graft's `effect.approved` or `effect.rejected`, stamped `at` by the instance that
   * appended it), or null while it waits.
   */
  decision: {
    kind: 'approved' | RejectionCause;
    seq: number;
    op: number;
    at: number;
    operator: string | null;
  } | null;
  /** Decision events the log holds for it (one at most). */
  decisions: number;
}

export interface HumanLogEntry {
  seq: number;
  op: number;
  type:
    | 'conversation.taken-over'
    | 'conversation.released'
    | 'reply.committed'
    | 'effect.started'
    | 'effect.approved'
    | 'attempt.started'
    | 'model.requested';
  /** The reply's kind, the effects started or approved, the attempt or the call. */
  detail: string;
}

/** One act of the simulated operator through graft's API, with how graft answered. */
export interface OperatorAct {
  kind: 'decide' | 'take-over' | 'reply' | 'release';
  /** The instance the act went through. */
  via: string;
  /** The operator's name for this act (each decision has its own, so that the log names the act). */
  operator: string;
  /** For `decide`: the request and the decision. */
  effectId?: string;
  decision?: 'approve' | 'reject';
  /**
   * The person acts on a stale view, knowing the act must be refused: a decision on a request no
   * longer pending, a reply after the release.
   */
  late?: boolean;
  startOp: number;
  endOp: number | null;
  /** The instance's own clock when graft answered (it judges a request's bound by it). */
  endInstanceMs: number | null;
  /** `ok`, an `OperatorError`'s code, or `error: …` for anything else. */
  outcome: string | null;
}

export interface ModelCallRecord {
  at: number;
  op: number;
  /** Tool call ids of the effects whose output is in the call's context. */
  held: Set<string>;
  /** User message texts in the call's context. */
  userTexts: string[];
  inputTokens: number;
  outputTokens: number;
  aborted: boolean;
  /** graft's id of the call (the request's `callId`), in the adversarial world. */
  callId?: string | undefined;
  /**
   * graft's ledger when the call was requested: each effect's status by the model's tool call id.
   * Null when the call could not be linked to graft's log; absent for the baselines (no ledger).
   */
  ledger?: ReadonlyMap<string, EffectStatus> | null;
  /** The status of each tool call whose output the context holds (its last output), by tool call id. */
  seen?: ReadonlyMap<string, EffectStatus>;
  /** Call ids that two function calls of the context share (an ambiguous context). */
  repeatedCallIds?: string[];
  /** The id of the response, once it came (the adversarial world: replies name the call they came from). */
  responseId?: string;
}

export interface EffectRecord {
  /** The model's call id of the tool call (the effect's identity across branches). */
  toolCallId: string;
  tool: string;
  startOp: number;
  startAt: number;
  endOp: number | null;
  ok: boolean | null;
  /** Index in `calls` of the model call whose response asked for it. */
  requestedBy: number | null;
}

export interface ReplyRecord {
  text: string;
  covers: string[];
  kind: ReplyKind;
  committedAt: number;
  committedOp: number;
  deliveredAt: number | null;
  /** Index in `calls` of the model call whose response is the reply (the adversarial world; none for a fallback). */
  fromCall?: number;
  /** graft's ledger when the reply was committed, by tool call id (absent for the baselines: the tool log says). */
  ledger?: ReadonlyMap<string, EffectStatus>;
}

/** Gives every observation a global order, so "before" is exact even at equal virtual times. */
export class Recorder {
  private op = 0;
  readonly conversations = new Map<string, ConversationRecord>();
  /** effect id (graft's ledger) → the model's tool call id. */
  readonly effectCalls = new Map<string, string>();
  /** tool call id → index of the model call that asked for it, per conversation. */
  readonly requestedBy = new Map<string, number>();

  nextOp(): number {
    return (this.op += 1);
  }

  conversation(conversationId: string): ConversationRecord {
    let record = this.conversations.get(conversationId);
    if (!record) {
      record = {
        conversationId,
        messages: [],
        calls: [],
        effects: [],
        replies: [],
        invocations: [],
        reconciles: [],
        coverage: null,
        errors: [],
        writeDecisions: new Map(),
      };
      this.conversations.set(conversationId, record);
    }
    return record;
  }
}

import type { EffectStatus, ReplyKind } from '../core/events.js';
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

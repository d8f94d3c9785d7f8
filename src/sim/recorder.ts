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
  kind: 'reply' | 'follow-up' | 'fallback';
  committedAt: number;
  committedOp: number;
  deliveredAt: number | null;
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
      record = { conversationId, messages: [], calls: [], effects: [], replies: [] };
      this.conversations.set(conversationId, record);
    }
    return record;
  }
}

import type { FunctionToolSpec } from './items.js';

/** Everything the core needs to know that is not in the log. Pure data. */
export interface CoreConfig {
  /** This instance's id: only the owner of an attempt or an effect executes it. */
  instanceId: string;
  model: string;
  instructions: string;
  tools: FunctionToolSpec[];
  /** `chain` sends only the delta with `previous_response_id`; `stateless` sends the transcript. */
  mode: 'chain' | 'stateless';
  /** Reasoning models get their reasoning items replayed in stateless mode. */
  reasoning: boolean;
  limits: Limits;
  /** When a write that was running at the start of an attempt's first model call settles while
   * that call is in flight (or a superseded attempt's read answers, so that the frontier moves on):
   * `restart` aborts the call and starts it again from the new frontier; `rebase` lets it run and
   * corrects it at the gate. */
  onSettleDuringFirstCall: 'restart' | 'rebase';
  fallbackText: string;
  /** Per-tool time bounds (a tool's `timeoutMs` and `hangMs`); the limits apply to the others. */
  toolBounds: Record<string, Partial<ToolBounds>>;
}

/** How long a write may run before its outcome is unknown (`timeoutMs`), and before graft asks its `reconcile` (`hangMs`). */
export interface ToolBounds {
  timeoutMs: number;
  hangMs: number;
}

/** Every bound graft keeps. Exceeding one is handled as documented, never a hang. */
export interface Limits {
  /**
   * Attempts per turn. Later messages of the turn *steer* into the live attempt: they join its
   * next model call, and its reply gate does not commit a draft that misses one.
   */
  attemptsPerTurn: number;
  /** Model calls per turn (all attempts); past it the fallback reply is committed. */
  modelCallsPerTurn: number;
  /** Rebases per attempt; past it the fallback reply is committed. */
  rebasesPerAttempt: number;
  /** Retries of one failed model call; past them the fallback reply is committed. */
  modelRetries: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /**
   * A write running longer than this is recorded as `unknown`: the model is told its outcome is not
   * known yet and the reply gate stops waiting for it, but it keeps every write gate closed while
   * it may still be in flight (and is upgraded when it settles). Its `AbortSignal` fires then.
   */
  toolTimeoutMs: number;
  /**
   * A write running longer than this goes to the tool's `reconcile` (a fence). Without a fenced
   * answer the conversation is flagged for a person and its writes stay blocked.
   */
  toolHangMs: number;
  /** How long the reply gate waits for a running write before committing a reply that knows. */
  replyWaitMs: number;
  /**
   * Follow-up turns after the customer's last message. A follow-up may write again, and a write
   * that keeps failing would otherwise start a follow-up for ever; past it, the news waits for
   * the customer's next message.
   */
  followUpsPerMessage: number;
  /** Longest accepted message, in characters. */
  messageChars: number;
  /** How long an owner's claim on a live attempt or a running write lasts unless renewed. */
  leaseMs: number;
}

export const defaultLimits: Limits = {
  attemptsPerTurn: 8,
  modelCallsPerTurn: 24,
  rebasesPerAttempt: 3,
  modelRetries: 4,
  retryBaseMs: 250,
  retryMaxMs: 8_000,
  toolTimeoutMs: 30_000,
  toolHangMs: 120_000,
  replyWaitMs: 5_000,
  followUpsPerMessage: 3,
  messageChars: 8_000,
  leaseMs: 15_000,
};

export const DEFAULT_FALLBACK_TEXT =
  "Sorry, I'm having trouble answering right now. A member of our team will get back to you shortly.";

export function coreConfig(partial: Partial<CoreConfig> & Pick<CoreConfig, 'instanceId'>): CoreConfig {
  return {
    model: 'gpt-4.1-mini',
    instructions: 'You are a helpful customer support assistant.',
    tools: [],
    mode: 'chain',
    reasoning: false,
    onSettleDuringFirstCall: 'restart',
    fallbackText: DEFAULT_FALLBACK_TEXT,
    toolBounds: {},
    ...partial,
    limits: { ...defaultLimits, ...partial.limits },
  };
}

/** A tool's time bounds: its own, else the limits; the hang bound is never below the time bound. */
export function toolBounds(config: CoreConfig, tool: string): ToolBounds {
  const own = config.toolBounds[tool];
  const timeoutMs = own?.timeoutMs ?? config.limits.toolTimeoutMs;
  return { timeoutMs, hangMs: Math.max(timeoutMs, own?.hangMs ?? config.limits.toolHangMs) };
}

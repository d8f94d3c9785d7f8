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
   * that call is in flight: `restart` aborts the call and starts it again from the new frontier;
   * `rebase` lets it run and corrects it at the gate. */
  onSettleDuringFirstCall: 'restart' | 'rebase';
  fallbackText: string;
}

/** Every bound graft keeps. Exceeding one is handled as documented, never a hang. */
export interface Limits {
  /** Attempts per turn; later messages of the turn wait for the next turn. */
  attemptsPerTurn: number;
  /** Model calls per turn (all attempts); past it the fallback reply is committed. */
  modelCallsPerTurn: number;
  /** Rebases per attempt; past it the fallback reply is committed. */
  rebasesPerAttempt: number;
  /** Retries of one failed model call; past them the fallback reply is committed. */
  modelRetries: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** A write running longer than this is recorded as `unknown` (and upgraded when it settles). */
  toolTimeoutMs: number;
  /** How long the reply gate waits for a running write before committing a reply that knows. */
  replyWaitMs: number;
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
  replyWaitMs: 5_000,
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
    ...partial,
    limits: { ...defaultLimits, ...partial.limits },
  };
}

import type { Brain } from '../core/brain.js';

/** How long generation takes: time to first token, then a delay per output token. */
export interface LatencyProfile {
  ttftMs: number;
  perTokenMs: number;
}

export type LatencyOption = 'zero' | 'realistic' | LatencyProfile;

export const LATENCY_PROFILES: Record<'zero' | 'realistic', LatencyProfile> = {
  zero: { ttftMs: 0, perTokenMs: 0 },
  // Roughly what a small hosted model shows: half a second to the first token, ~50 tokens a second.
  realistic: { ttftMs: 500, perTokenMs: 20 },
};

/**
 * Fault knobs for tests. Each `POST /v1/responses` draws from a generator seeded by `seed`, so the
 * same seed and the same request order give the same faults.
 */
export interface FaultOptions {
  /** Probability that a create is answered 429 `rate_limit_exceeded`. */
  rate429: number;
  /** Probability that a create is answered 500 `server_error`. */
  rate500: number;
  /** Probability that generation stalls for `stallMs` before its first output token. */
  stallRate: number;
  stallMs: number;
  /** Probability that a generation fails after its first delta (an `error` event, then `response.failed`). */
  midStreamErrorRate: number;
  /** What the 429 answers put in `retry-after-ms` (and, rounded up to seconds, `retry-after`). */
  retryAfterMs: number;
}

export const NO_FAULTS: FaultOptions = {
  rate429: 0,
  rate500: 0,
  stallRate: 0,
  stallMs: 0,
  midStreamErrorRate: 0,
  retryAfterMs: 1000,
};

export type ParentPolicy = 'allow' | 'reject';

/**
 * Choices where the real API's behaviour is undocumented. Each default is explained in
 * `src/emulator/README.md`.
 */
export interface Assumptions {
  /** What a client that disconnects a non-background stream leaves stored. */
  disconnectedStreamStatus: 'cancelled' | 'incomplete' | 'failed';
  /** Whether a client that disconnects a non-streaming, non-background create stops generation. */
  disconnectedRequest: 'continue' | 'cancel';
  /** Chaining from a parent that is still queued or in progress. */
  chainFromInProgress: 'reject' | 'wait';
  chainFromCancelled: ParentPolicy;
  chainFromFailed: ParentPolicy;
  chainFromIncomplete: ParentPolicy;
  /** The 400 message for cancelling a response that was not created with `background: true`. */
  cancelSyncMessage: string;
  /**
   * Cancelling a background response that already completed, failed or is incomplete: `reject`
   * answers 400 `Cannot cancel a completed response.`; `return` answers it as it is.
   */
  cancelFinished: 'reject' | 'return';
  /** What `input_items` lists: this request's input only, or the whole context of the chain. */
  inputItemsScope: 'context' | 'request';
  /**
   * `status` on replayed message, function_call and reasoning items: `accept-valid` takes a valid
   * status string and rejects `null` as an unknown parameter; `reject` rejects any status.
   */
  replayedStatus: 'accept-valid' | 'reject';
}

export const DEFAULT_ASSUMPTIONS: Assumptions = {
  disconnectedStreamStatus: 'cancelled',
  disconnectedRequest: 'continue',
  chainFromInProgress: 'reject',
  chainFromCancelled: 'allow',
  chainFromFailed: 'reject',
  chainFromIncomplete: 'allow',
  cancelSyncMessage: 'Only responses created with background=true can be cancelled.',
  cancelFinished: 'reject',
  inputItemsScope: 'context',
  replayedStatus: 'accept-valid',
};

export interface EmulatorOptions {
  /** The model behind every response. Defaults to the shop clerk. */
  brain?: Brain;
  latency?: LatencyOption;
  /** When set, every request must carry `Authorization: Bearer <apiKey>` (else 401). */
  apiKey?: string;
  faults?: Partial<FaultOptions>;
  assumptions?: Partial<Assumptions>;
  /** Seeds the fault draws and the generated ids. */
  seed?: number;
  /** Wall clock in milliseconds; injectable for tests. */
  now?: () => number;
  /** Reasoning tokens billed per output item for reasoning models (plus a fixed 32). */
  reasoningTokensPerItem?: number;
  /** Upper bound of stored responses; the oldest are evicted past it. */
  maxStoredResponses?: number;
  /** Upper bound of a request body in bytes (413 past it), and of a WebSocket message. */
  maxBodyBytes?: number;
  /** How long a WebSocket connection may stay open (the API's limit is 60 minutes). */
  webSocketLimitMs?: number;
}

export interface ResolvedOptions {
  brain: Brain;
  latency: LatencyProfile;
  apiKey: string | null;
  faults: FaultOptions;
  assumptions: Assumptions;
  seed: number;
  now: () => number;
  reasoningTokensPerItem: number;
  maxStoredResponses: number;
  maxBodyBytes: number;
  webSocketLimitMs: number;
}

export function resolveLatency(option: LatencyOption | undefined): LatencyProfile {
  if (option === undefined) return LATENCY_PROFILES.zero;
  if (typeof option === 'string') return LATENCY_PROFILES[option];
  if (!(option.ttftMs >= 0 && option.perTokenMs >= 0)) {
    throw new RangeError(`Latency must be non-negative, got ${JSON.stringify(option)}.`);
  }
  return option;
}

function checkRate(name: string, rate: number): void {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`faults.${name} must be within [0, 1], got ${rate}.`);
}

export function resolveOptions(options: EmulatorOptions, defaultBrain: () => Brain): ResolvedOptions {
  const faults = { ...NO_FAULTS, ...options.faults };
  checkRate('rate429', faults.rate429);
  checkRate('rate500', faults.rate500);
  checkRate('stallRate', faults.stallRate);
  checkRate('midStreamErrorRate', faults.midStreamErrorRate);
  if (faults.rate429 + faults.rate500 > 1)
    throw new RangeError('faults.rate429 + faults.rate500 must be at most 1.');
  return {
    brain: options.brain ?? defaultBrain(),
    latency: resolveLatency(options.latency),
    apiKey: options.apiKey ?? null,
    faults,
    assumptions: { ...DEFAULT_ASSUMPTIONS, ...options.assumptions },
    seed: options.seed ?? Math.floor(Math.random() * 2 ** 32),
    now: options.now ?? Date.now,
    reasoningTokensPerItem: options.reasoningTokensPerItem ?? 16,
    maxStoredResponses: options.maxStoredResponses ?? 100_000,
    maxBodyBytes: options.maxBodyBytes ?? 16 * 1024 * 1024,
    webSocketLimitMs: options.webSocketLimitMs ?? 60 * 60 * 1000,
  };
}

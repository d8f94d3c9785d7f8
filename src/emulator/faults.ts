import { rateLimited, serverError, type ApiError } from './api-error.js';
import type { FaultOptions } from './options.js';
import type { Rng } from './rng.js';

/** The faults drawn for one create. */
export interface FaultDraw {
  /** Answer with this error instead of creating a response. */
  error: ApiError | null;
  stallMs: number;
  midStreamError: boolean;
}

/**
 * Draws the faults of each create. Every create makes exactly three draws, whatever their
 * outcome, so that the same seed and the same sequence of creates always give the same faults.
 */
export function createFaultSource(options: FaultOptions, rng: Rng): () => FaultDraw {
  return () => {
    const status = rng();
    const stall = rng();
    const midStream = rng();
    let error: ApiError | null = null;
    if (status < options.rate429) error = rateLimited(options.retryAfterMs);
    else if (status < options.rate429 + options.rate500) error = serverError();
    return {
      error,
      stallMs: stall < options.stallRate ? options.stallMs : 0,
      midStreamError: midStream < options.midStreamErrorRate,
    };
  };
}

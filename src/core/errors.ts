/**
 * Errors, classified by what the caller should do about them.
 * - `RetryableError`: try again later (after `retryAfterMs` when the server said so).
 * - `TerminalError`: retrying the same thing will not help; report it.
 * - `InvariantViolation`: a bug in graft; crash loudly rather than corrupt the log.
 */
export class RetryableError extends Error {
  override readonly name = 'RetryableError';
  constructor(
    message: string,
    readonly retryAfterMs: number | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

export class TerminalError extends Error {
  override readonly name = 'TerminalError';
  constructor(
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

/**
 * Bad input from the caller (`receive`'s conversation id, message id or text): `field` names it,
 * `reason` says whether it is malformed or too long. A `TypeError`, so callers that catch those
 * keep working.
 */
export class InvalidInputError extends TypeError {
  override readonly name = 'InvalidInputError';
  constructor(
    readonly field: 'conversationId' | 'messageId' | 'text',
    message: string,
    readonly reason: 'invalid' | 'too-long' = 'invalid',
  ) {
    super(message);
  }
}

export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

/** Asserts a programmer's assumption; stays on in production. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}

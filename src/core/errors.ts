/**
 * Errors, classified by what the caller should do about them. Every error graft throws is a
 * `GraftError` with a `kind` (what to do) and a stable `code` (which error it is):
 * - `retryable` (`RetryableError` and others): try again later, after `retryAfterMs` when known.
 * - `terminal` (`TerminalError` and others): retrying the same thing will not help; report it.
 * - `invalid-input` (`InvalidInputError`, `UsageError`): the caller's input is wrong; fix it.
 * - `invariant` (`InvariantViolation`): a bug in graft; crash loudly rather than corrupt the log.
 *
 * docs/service.md lists every error class with its kind, code and HTTP status.
 */
export type ErrorKind = 'retryable' | 'terminal' | 'invalid-input' | 'invariant';

/** Marks graft's errors, so that `InvalidInputError` (a `TypeError`) is a `GraftError` too. */
const GRAFT_ERROR: unique symbol = Symbol.for('graft.error');

/**
 * The base of every error graft throws.
 *
 * @example
 * if (error instanceof GraftError && error.kind === 'retryable') retryLater(error.retryAfterMs ?? 1_000);
 */
export abstract class GraftError extends Error {
  abstract readonly kind: ErrorKind;
  /** A stable, snake_case name of the error, for programs and logs (`store_unavailable`, `conflict`). */
  abstract readonly code: string;
  /** How long to wait before retrying, when known (retryable errors only). */
  readonly retryAfterMs: number | null = null;
  readonly [GRAFT_ERROR] = true;

  /**
   * `instanceof GraftError` also holds for `InvalidInputError`, which extends `TypeError` so that
   * callers catching those keep working. Subclasses keep the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== GraftError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as { [GRAFT_ERROR]?: unknown })[GRAFT_ERROR] === true
    );
  }
}

/** Try again later (after `retryAfterMs` when the server said so): a store or model outage, a 429. */
export class RetryableError extends GraftError {
  override readonly name = 'RetryableError';
  readonly kind = 'retryable';
  override readonly retryAfterMs: number | null;
  readonly code: string;
  constructor(message: string, retryAfterMs: number | null = null, code: string | null = null) {
    super(message);
    this.retryAfterMs = retryAfterMs;
    this.code = code ?? 'retryable';
  }
}

/** Retrying the same thing will not help: report it (`code` is the API's code when it gave one). */
export class TerminalError extends GraftError {
  override readonly name = 'TerminalError';
  readonly kind = 'terminal';
  readonly code: string;
  constructor(message: string, code: string | null = null) {
    super(message);
    this.code = code ?? 'terminal';
  }
}

/**
 * Bad input from the caller (`receive`'s conversation id, message id or text): `field` names it,
 * `reason` says whether it is malformed or too long. A `TypeError`, so callers that catch those
 * keep working, and a `GraftError` of kind `invalid-input` (see `GraftError`).
 */
export class InvalidInputError extends TypeError {
  override readonly name = 'InvalidInputError';
  readonly kind = 'invalid-input';
  readonly retryAfterMs = null;
  readonly [GRAFT_ERROR] = true;
  constructor(
    readonly field: 'conversationId' | 'messageId' | 'text',
    message: string,
    readonly reason: 'invalid' | 'too-long' = 'invalid',
  ) {
    super(message);
  }

  /** `invalid_conversation_id`, `invalid_message_id`, `invalid_text` or `text_too_long`. */
  get code(): string {
    if (this.reason === 'too-long') return `${this.field === 'text' ? 'text' : 'id'}_too_long`;
    return {
      conversationId: 'invalid_conversation_id',
      messageId: 'invalid_message_id',
      text: 'invalid_text',
    }[this.field];
  }
}

/** A bug in graft: an assumption the code relies on does not hold. Never caught and retried. */
export class InvariantViolation extends GraftError {
  override readonly name = 'InvariantViolation';
  readonly kind = 'invariant';
  readonly code: string = 'invariant_violation';
}

/** Asserts a programmer's assumption; stays on in production. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}

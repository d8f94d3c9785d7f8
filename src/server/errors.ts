/**
 * The service's error answers. Every refused request gets `{ "error": { "code", "message" } }`
 * with the status that tells the client what to do: fix the request (400, 413), authenticate
 * (401), stop asking for something it cannot see (404), stop reusing an id (409), give up on a
 * request that cannot succeed (422), or slow down (429, 503 with `Retry-After`). A 500 means the
 * service failed (a bug), never that the request was bad.
 *
 * `toApiError` is the one place where what the library throws becomes an HTTP answer, by the
 * error's kind (docs/service.md lists every error class).
 */

import type { ErrorKind } from '../core/errors.js';
import { GraftError, InvalidInputError } from '../core/errors.js';
import { OperatorError } from '../core/operator.js';
import { DuplicateMessageError, IdempotencyConflictError } from '../core/ports.js';

export type ErrorCode =
  | 'invalid_json'
  | 'invalid_request'
  | 'invalid_conversation_id'
  | 'invalid_message_id'
  | 'invalid_text'
  | 'invalid_query'
  | 'unauthorized'
  | 'invalid_signature'
  | 'not_found'
  | 'message_id_conflict'
  | 'idempotency_conflict'
  | 'request_not_pending'
  | 'already_taken_over'
  | 'not_taken_over'
  | 'effect_not_blocked'
  | 'payload_too_large'
  | 'message_too_long'
  | 'unprocessable'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

export type ErrorStatus = 400 | 401 | 404 | 409 | 413 | 422 | 429 | 500 | 503;

/** What a client should do with each status. */
function kindOf(status: ErrorStatus): ErrorKind {
  if (status === 429 || status === 503) return 'retryable';
  if (status === 400 || status === 413) return 'invalid-input';
  return status === 500 ? 'invariant' : 'terminal';
}

/** A request refused on purpose: thrown by a route, answered by the app's error handler. */
export class ApiError extends GraftError {
  override readonly name = 'ApiError';
  readonly kind: ErrorKind;
  override readonly retryAfterMs: number | null;
  constructor(
    readonly status: ErrorStatus,
    readonly code: ErrorCode,
    message: string,
    /** Extra response headers (`Retry-After`, `WWW-Authenticate`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.kind = kindOf(status);
    const after = headers['retry-after'];
    this.retryAfterMs = after !== undefined ? Number(after) * 1000 : null;
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function errorBody(error: ApiError): ErrorBody {
  return { error: { code: error.code, message: error.message } };
}

/** When a retryable error gives no delay of its own, clients are told to wait this long. */
const DEFAULT_RETRY_AFTER_S = 1;

/**
 * What the library throws, as the service's answer:
 * - bad input (`InvalidInputError`, naming the field): 400, or 413 for a text that is too long;
 * - retryable (a store or model outage, a conflict that did not settle): 503 `unavailable` with
 *   `Retry-After` in whole seconds (the error's `retryAfterMs`, else 1 s);
 * - a person's act the conversation does not allow (`OperatorError`): 404 for a request for
 *   approval that does not exist, 409 with the error's own code for one that is no longer pending
 *   or a takeover in the wrong state, 400 for a bad operator name, note or text;
 * - terminal: 409 for a reused message id or idempotency key, else 422 `unprocessable`;
 * - an invariant violation, or anything that is not a `GraftError`: 500 `internal`.
 *
 * @example
 * toApiError(new RetryableError('SQLite: database is locked', 2_000)); // 503, Retry-After: 2
 */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof InvalidInputError) {
    if (error.reason === 'too-long') return new ApiError(413, 'message_too_long', error.message);
    const codes = {
      conversationId: 'invalid_conversation_id',
      messageId: 'invalid_message_id',
      text: 'invalid_text',
    } as const;
    return new ApiError(400, codes[error.field], error.message);
  }
  if (error instanceof OperatorError) return operatorAnswer(error);
  if (!(error instanceof GraftError)) return internal();
  switch (error.kind) {
    case 'retryable': {
      const seconds =
        error.retryAfterMs === null
          ? DEFAULT_RETRY_AFTER_S
          : Math.max(1, Math.ceil(error.retryAfterMs / 1000));
      return new ApiError(503, 'unavailable', 'the service is unavailable for now; retry later', {
        'retry-after': String(seconds),
      });
    }
    case 'terminal':
      if (error instanceof DuplicateMessageError)
        return new ApiError(409, 'message_id_conflict', error.message);
      if (error instanceof IdempotencyConflictError)
        return new ApiError(409, 'idempotency_conflict', error.message);
      return new ApiError(422, 'unprocessable', error.message);
    case 'invalid-input':
      return new ApiError(400, 'invalid_request', error.message);
    case 'invariant':
      return internal();
  }
}

/** An operator's act refused by the conversation's state: the client asked for the wrong thing now. */
function operatorAnswer(error: OperatorError): ApiError {
  switch (error.code) {
    case 'request_not_found':
    case 'effect_not_found':
      return new ApiError(404, 'not_found', error.message);
    case 'invalid_operator_input':
      return new ApiError(400, 'invalid_request', error.message);
    case 'request_not_pending':
    case 'already_taken_over':
    case 'not_taken_over':
    case 'effect_not_blocked':
      return new ApiError(409, error.code, error.message);
  }
}

const internal = () =>
  new ApiError(500, 'internal', 'the service failed to answer; the request may be retried');

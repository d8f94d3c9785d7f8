/**
 * The service's error answers. Every refused request gets `{ "error": { "code", "message" } }`
 * with the status that tells the client what to do: fix the request (400, 413), authenticate
 * (401), stop asking for something it cannot see (404), stop reusing an id (409), or slow down
 * (429). A 5xx means the service failed, never that the request was bad.
 */

import { InvalidInputError } from '../core/errors.js';

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
  | 'payload_too_large'
  | 'message_too_long'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

export type ErrorStatus = 400 | 401 | 404 | 409 | 413 | 429 | 500 | 503;

/** A request refused on purpose: thrown by a route, answered by the app's error handler. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: ErrorStatus,
    readonly code: ErrorCode,
    message: string,
    /** Extra response headers (`Retry-After`, `WWW-Authenticate`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function errorBody(error: ApiError): ErrorBody {
  return { error: { code: error.code, message: error.message } };
}

/**
 * Maps what the library throws for bad input (`InvalidInputError`, naming the field) to a 400
 * or a 413; anything else is the service's own failure.
 */
export function fromLibraryError(error: unknown): ApiError | null {
  if (error instanceof ApiError) return error;
  if (!(error instanceof InvalidInputError)) return null;
  if (error.reason === 'too-long') return new ApiError(413, 'message_too_long', error.message);
  const codes = { conversationId: 'invalid_conversation_id', messageId: 'invalid_message_id', text: 'invalid_text' } as const;
  return new ApiError(400, codes[error.field], error.message);
}

import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { RetryableError, TerminalError } from '../../core/errors.js';
import { ChainBrokenError, ModelCallAborted } from '../../core/model-port.js';

/** Error codes (in a stream's `error` event or a failed response) that a later try may not meet. */
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'server_error',
  'rate_limit_exceeded',
  'server_is_overloaded',
  'slow_down',
]);

/**
 * The delay a server asked for: `retry-after-ms` (milliseconds), else `retry-after` (seconds, or
 * an HTTP date). Null when neither is there or readable.
 *
 * @example
 * retryAfterMs(new Headers({ 'retry-after': '2' })); // 2000
 */
export function retryAfterMs(headers: Headers | undefined, nowMs: number = Date.now()): number | null {
  const ms = headers?.get('retry-after-ms');
  if (ms) {
    const value = Number.parseFloat(ms);
    if (Number.isFinite(value) && value >= 0) return Math.ceil(value);
  }
  const after = headers?.get('retry-after');
  if (!after) return null;
  const seconds = Number.parseFloat(after);
  if (Number.isFinite(seconds) && /^\s*[\d.]+\s*$/.test(after)) return Math.max(0, Math.ceil(seconds * 1000));
  const date = Date.parse(after);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

/** The API's own message, without the status prefix the SDK adds. */
function apiMessage(error: APIError<number | undefined, Headers | undefined>): string {
  const body: { message?: unknown } | undefined = error.error;
  return typeof body?.message === 'string' ? body.message : error.message;
}

/** An error from a stream (an `error` event or a `response.failed`), by its code. */
export function streamFailure(
  code: string | null | undefined,
  message: string,
): RetryableError | TerminalError {
  if (code && RETRYABLE_CODES.has(code)) return new RetryableError(message, null, code);
  return new TerminalError(message, code ?? null);
}

/**
 * Classifies what the SDK threw by what the runtime should do: retry (429, 408, 409, 5xx,
 * timeouts, lost connections, honouring the server's retry-after), rebuild the request in
 * stateless form (`previous_response_not_found`), or give up (other 4xx, with the API's message).
 */
export function classifyError(error: unknown): Error {
  if (error instanceof RetryableError || error instanceof TerminalError || error instanceof ChainBrokenError)
    return error;
  if (error instanceof ModelCallAborted) return error;
  if (error instanceof APIUserAbortError) return new ModelCallAborted();
  if (error instanceof APIConnectionTimeoutError) return new RetryableError(error.message, null, 'timeout');
  if (error instanceof APIConnectionError) return new RetryableError(error.message, null, 'connection_error');
  if (!(error instanceof APIError)) return error instanceof Error ? error : new Error(String(error));
  return classifyApiError(error as APIError<number | undefined, Headers | undefined>);
}

function classifyApiError(error: APIError<number | undefined, Headers | undefined>): Error {
  const message = apiMessage(error);
  const code = typeof error.code === 'string' ? error.code : null;
  if (code === 'previous_response_not_found') return new ChainBrokenError(message);
  const status = error.status;
  if (status === undefined)
    return streamFailure(code ?? (error.type === 'server_error' ? 'server_error' : null), message);
  if (status === 429)
    return new RetryableError(message, retryAfterMs(error.headers), code ?? 'rate_limit_exceeded');
  if (status === 408 || status === 409 || status >= 500)
    return new RetryableError(message, retryAfterMs(error.headers), code ?? `http_${status}`);
  return new TerminalError(message, code ?? `http_${status}`);
}

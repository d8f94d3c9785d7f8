import type { ErrorKind } from '../core/errors.js';
import { GraftError } from '../core/errors.js';
import type { ErrorEnvelope } from './wire.js';

/**
 * An error the emulator answers with, in the API's envelope
 * `{ "error": { "message", "type", "param", "code" } }`. Messages follow the real API's wording
 * where it is known.
 */
export class ApiError extends GraftError {
  override readonly name = 'ApiError';
  /** As a client should take it: 429 and 5xx are retryable, 400 is bad input, other 4xx terminal. */
  readonly kind: ErrorKind;
  /** The envelope's `code`, else its `type` (`invalid_request_error`, `server_error`). */
  readonly code: string;
  override readonly retryAfterMs: number | null;
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    /** The envelope's `code` (null when the API sends none). */
    readonly apiCode: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.kind = status === 429 || status >= 500 ? 'retryable' : status === 400 ? 'invalid-input' : 'terminal';
    this.code = apiCode ?? type;
    const afterMs = Number(headers['retry-after-ms']);
    this.retryAfterMs = headers['retry-after-ms'] !== undefined && Number.isFinite(afterMs) ? afterMs : null;
  }

  envelope(): ErrorEnvelope {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.apiCode } };
  }
}

const INVALID = 'invalid_request_error';

export function invalidRequest(
  message: string,
  param: string | null = null,
  code: string | null = null,
): ApiError {
  return new ApiError(400, message, INVALID, param, code);
}

export function missingParameter(param: string): ApiError {
  return invalidRequest(`Missing required parameter: '${param}'.`, param, 'missing_required_parameter');
}

export function unknownParameter(param: string): ApiError {
  return invalidRequest(`Unknown parameter: '${param}'.`, param, 'unknown_parameter');
}

export function unsupportedParameter(param: string): ApiError {
  return invalidRequest(
    `Unsupported parameter: '${param}' is not supported by the emulator.`,
    param,
    'unsupported_parameter',
  );
}

/** A JSON type name as the API's messages spell it. */
export function jsonTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a boolean';
  return 'an object';
}

export function invalidType(param: string, expected: string, value: unknown): ApiError {
  return invalidRequest(
    `Invalid type for '${param}': expected ${expected}, but got ${jsonTypeName(value)} instead.`,
    param,
    'invalid_type',
  );
}

function listValues(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  if (quoted.length <= 1) return quoted.join('');
  if (quoted.length === 2) return `${quoted[0]} and ${quoted[1]}`;
  return `${quoted.slice(0, -1).join(', ')}, and ${quoted.at(-1)}`;
}

export function invalidValue(param: string, value: unknown, supported: readonly string[]): ApiError {
  return invalidRequest(
    `Invalid value: '${String(value)}'. Supported values are: ${listValues(supported)}.`,
    param,
    'invalid_value',
  );
}

export function responseNotFound(id: string): ApiError {
  return new ApiError(404, `Response with id '${id}' not found.`, INVALID, null, null);
}

export function previousResponseNotFound(id: string): ApiError {
  return invalidRequest(
    `Previous response with id '${id}' not found.`,
    'previous_response_id',
    'previous_response_not_found',
  );
}

export function serverError(
  message = 'The server had an error while processing your request. Sorry about that!',
): ApiError {
  return new ApiError(500, message, 'server_error', null, 'server_error');
}

export function rateLimited(retryAfterMs: number): ApiError {
  return new ApiError(
    429,
    'Rate limit reached for requests (emulated fault). Please try again later.',
    'requests',
    null,
    'rate_limit_exceeded',
    { 'retry-after-ms': String(retryAfterMs), 'retry-after': String(Math.ceil(retryAfterMs / 1000)) },
  );
}

export function missingApiKey(): ApiError {
  return new ApiError(
    401,
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    INVALID,
    null,
    null,
  );
}

export function incorrectApiKey(key: string): ApiError {
  const shown =
    key.length > 8 ? `${key.slice(0, 4)}${'*'.repeat(Math.min(key.length - 8, 20))}${key.slice(-4)}` : '***';
  return new ApiError(401, `Incorrect API key provided: ${shown}.`, INVALID, null, 'invalid_api_key');
}

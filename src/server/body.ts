import type { Env, MiddlewareHandler } from 'hono';
import { validator } from 'hono/validator';
import { z } from 'zod';
import { parseConversationId, parseMessageId } from '../core/ids.js';
import { parseApprovalId } from '../runtime/approvals.js';
import { ApiError, type ErrorCode } from './errors.js';

/**
 * Reads a request body, refusing it with 413 as soon as it passes `maxBytes` (a declared
 * `Content-Length` over the limit is refused before reading anything). The raw bytes are kept:
 * an inbound signature is computed over them, not over re-serialized JSON.
 */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return new Uint8Array();
  const reader: ReadableStreamDefaultReader<Uint8Array> = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, 'payload_too_large', `the request body is larger than ${maxBytes} bytes`);
}

/** Parses a JSON body; anything but a JSON object is a 400. */
export function parseJsonObject(body: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    throw new ApiError(400, 'invalid_json', 'the request body is not valid UTF-8 JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiError(400, 'invalid_json', 'the request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** Which error answers a bad field: its code, and 413 for a value over a size limit (400 otherwise). */
export interface FieldErrors {
  /** The code of a field (by its top-level name), else `fallback`. */
  codes: Readonly<Record<string, ErrorCode>>;
  fallback: ErrorCode;
  /** The code of a value too big for a limit (answered 413), by field. */
  tooBig?: Readonly<Record<string, ErrorCode>>;
}

/**
 * Parses a request's input with a zod schema, or throws the `ApiError` of its first issue: the
 * field decides the code, and the message names the field.
 *
 * @example
 * const { limit } = parseInput(listQuery(limits), c.req.query(), { codes: {}, fallback: 'invalid_query' });
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, errors: FieldErrors): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = typeof issue.path[0] === 'string' ? issue.path[0] : '';
  const tooBig = issue.code === 'too_big' ? errors.tooBig?.[field] : undefined;
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  const message = issue.message.startsWith(`${field} `) ? issue.message : `${where}${issue.message}`;
  if (tooBig) throw new ApiError(413, tooBig, message);
  throw new ApiError(400, errors.codes[field] ?? errors.fallback, message);
}

/**
 * `validator` of hono/validator with a zod schema: the route then reads the parsed value with
 * `c.req.valid(target)`, and bad input is answered as `parseInput` says.
 */
export function validate<T extends 'query' | 'param' | 'header', S extends z.ZodType>(
  target: T,
  schema: S,
  errors: FieldErrors,
) {
  return validator(target, (value): z.output<S> => parseInput(schema, value, errors));
}

/**
 * The JSON body of a request, validated like `validate` validates the rest (the route reads it with
 * `c.req.valid('json')`). hono/validator's own `json` target is not used: it reads a body of any
 * size, and only when the Content-Type says JSON; this reads at most `maxBytes` of any request, as
 * `POST …/messages` does, so every route answers a large or malformed body alike (413, 400
 * `invalid_json`).
 */
export function jsonBody<S extends z.ZodType>(
  schema: S,
  errors: FieldErrors,
  maxBytes: number,
): MiddlewareHandler<Env, string, { in: { json: z.input<S> }; out: { json: z.output<S> } }> {
  return async (c, next) => {
    const value = parseInput(schema, parseJsonObject(await readBody(c.req.raw, maxBytes)), errors);
    c.req.addValidatedData('json', value as object);
    await next();
  };
}

/** A string that a core parser accepts (its `InvalidInputError` message becomes the issue). */
const parsedBy = <T>(parse: (value: unknown) => T) =>
  z.unknown().transform((value, ctx): T => {
    try {
      return parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
      return z.NEVER;
    }
  });

/** The path of every conversation route. */
export const conversationParam = z.object({ conversationId: parsedBy(parseConversationId) });
export const conversationParamErrors: FieldErrors = { codes: {}, fallback: 'invalid_conversation_id' };
export const effectParamErrors: FieldErrors = {
  codes: { conversationId: 'invalid_conversation_id' },
  fallback: 'invalid_request',
};

/**
 * The body of `POST /v1/conversations/{id}/messages`. Fields it does not name are ignored; the
 * library checks the rest of a message (a blank text, say) with the same codes.
 */
export const messageBody = (maxChars: number) =>
  z.object({
    id: parsedBy(parseMessageId),
    text: z
      .string({ error: 'text is required and must be a string' })
      .max(maxChars, { error: `text is longer than ${maxChars} characters` }),
    metadata: z
      .record(z.string(), z.unknown(), { error: 'metadata must be a JSON object' })
      .refine((value) => depthOf(value) <= MAX_METADATA_DEPTH, {
        error: `metadata is nested deeper than ${MAX_METADATA_DEPTH} levels`,
      })
      .optional(),
  });

/**
 * How deep metadata may nest. Deeper values overflowed the stack where graft copies, parses or
 * serialises an event (a 64 KiB body holds 30,000 levels): found by the HTTP fuzzer.
 */
export const MAX_METADATA_DEPTH = 32;

/** The nesting depth of a JSON value (a scalar is 0), found without recursion. */
function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [item, depth] = next;
    if (item === null || typeof item !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > MAX_METADATA_DEPTH) return deepest;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return deepest;
}
export const messageBodyErrors: FieldErrors = {
  codes: { id: 'invalid_message_id', text: 'invalid_text', metadata: 'invalid_request' },
  fallback: 'invalid_request',
  tooBig: { text: 'message_too_long' },
};

/** A non-negative integer of a query string (at most 15 digits, so exact as a number). */
const queryInt = (name: string, max: number) =>
  z
    .string({ error: `${name} must be an integer from 0 to ${max}` })
    .regex(/^\d{1,15}$/, { error: `${name} must be an integer from 0 to ${max}` })
    .transform(Number)
    .pipe(z.number().max(max, { error: `${name} must be an integer from 0 to ${max}` }));
/** An absent or empty parameter takes its default. */
const orDefault = <S extends z.ZodType, F>(schema: S, fallback: F) =>
  z
    .preprocess((value) => (value === '' ? undefined : value), schema.optional())
    .transform((value): z.output<S> | F => value ?? fallback);

/** `GET /v1/conversations/{id}/events?after=N` (else the `Last-Event-ID` header). */
export const eventsQuery = z.object({
  after: orDefault(queryInt('after (or Last-Event-ID)', Number.MAX_SAFE_INTEGER), null),
});
export const eventsHeaders = z.object({
  'last-event-id': orDefault(queryInt('after (or Last-Event-ID)', Number.MAX_SAFE_INTEGER), 0),
});
export const queryErrors: FieldErrors = { codes: {}, fallback: 'invalid_query' };

/** A cursor of `GET /v1/conversations`: the base64url of the last conversation id of a page. */
const cursor = z.string().transform((value, ctx) => {
  const after = Buffer.from(value, 'base64url').toString('utf8');
  const good = after !== '' && Buffer.from(after, 'utf8').toString('base64url') === value;
  if (good && conversationParam.shape.conversationId.safeParse(after).success)
    return parseConversationId(after);
  ctx.addIssue({ code: 'custom', message: 'cursor is not one this API gave' });
  return z.NEVER;
});

/** The path of `POST /v1/dead-letters/{deliveryId}/redeliver` (an id graft made: see `deliveryIdOf`). */
export const deliveryParam = z.object({
  deliveryId: z
    .string()
    .min(1, { error: 'deliveryId must not be empty' })
    .max(1_000, { error: 'deliveryId is longer than 1000 characters' }),
});
export const deliveryParamErrors: FieldErrors = { codes: {}, fallback: 'invalid_request' };

/**
 * `GET /v1/dead-letters?limit=N`, `GET /v1/approvals?limit=N`: lists that are not paged (a limit
 * of 0 means 1; the default is the page size).
 */
export const limitQuery = (pageSize: number) =>
  z.object({
    limit: orDefault(queryInt('limit', pageSize), pageSize).transform((n) => Math.max(1, n)),
  });

/** `GET /v1/conversations?limit=N&cursor=C` (a limit of 0 means 1). */
export const listQuery = (pageSize: number) =>
  z.object({
    limit: orDefault(queryInt('limit', pageSize), Math.min(50, pageSize)).transform((n) => Math.max(1, n)),
    cursor: cursor.optional(),
  });

/** A name or text a person gives: a string with something in it (the library bounds its length). */
const filled = (field: string) =>
  z
    .string({ error: `${field} must be a non-empty string` })
    .refine((value) => value.trim() !== '', { error: `${field} must be a non-empty string` });

/**
 * The path of `POST /v1/approvals/{id}`: `<conversationId>:<effectId>`, URL-encoded; parsed into
 * the id and what it names.
 */
export const approvalParam = z.object({
  approvalId: z.string().transform((value, ctx) => {
    const named = parseApprovalId(value);
    if (named !== null) return { id: value, ...named };
    // A conversation id has at most 200 characters: what is longer is not echoed whole.
    const shown = value.length > 240 ? `${value.slice(0, 240)}…` : value;
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(shown)} is not a request id (<conversationId>:<effectId>, as GET /v1/approvals lists them)`,
    });
    return z.NEVER;
  }),
});
export const approvalParamErrors: FieldErrors = { codes: {}, fallback: 'invalid_request' };

/** `POST /v1/approvals/{id}`: the decision, an optional note (told to the model) and who decided. */
export const decisionBody = z.object({
  decision: z.enum(['approve', 'reject'], { error: 'decision must be "approve" or "reject"' }),
  note: z.string({ error: 'note must be a string' }).optional(),
  operator: filled('operator').optional(),
});

/** The path of `POST /v1/conversations/{id}/effects/{effectId}/resolve`. */
export const effectParam = z.object({
  conversationId: parsedBy(parseConversationId),
  effectId: z.string().regex(/^eff_\d+_\d+$/, { error: 'effectId must be an effect id (eff_<seq>_<n>)' }),
});

/** The path of `GET /v1/conversations/{id}/calls/{callId}`. */
export const callParam = z.object({
  conversationId: parsedBy(parseConversationId),
  callId: z.string().regex(/^call_\d{1,15}$/, { error: 'callId must be a model call id (call_<seq>)' }),
});
export const callParamErrors: FieldErrors = effectParamErrors;

/** `POST /v1/conversations/{id}/effects/{effectId}/resolve`: how the write ended, by whom, why. */
export const resolveBody = z.object({
  outcome: z.enum(['done', 'failed'], { error: 'outcome must be "done" or "failed"' }),
  note: z.string({ error: 'note must be a string' }).optional(),
  operator: filled('operator').optional(),
});

/** `POST /v1/conversations/{id}/takeover`. */
export const takeoverBody = z.object({ operator: filled('operator') });

/** `POST /v1/conversations/{id}/operator-messages`: the text, bounded as a customer's is. */
export const operatorMessageBody = (maxChars: number) =>
  z.object({
    text: filled('text').pipe(
      z.string().max(maxChars, { error: `text is longer than ${maxChars} characters` }),
    ),
  });

/** Every field of the operator bodies is `invalid_request`, but a text, as in `messageBodyErrors`. */
export const operatorBodyErrors: FieldErrors = {
  codes: { text: 'invalid_text' },
  fallback: 'invalid_request',
  tooBig: { text: 'message_too_long' },
};

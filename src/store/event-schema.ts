/**
 * The event log's durable format as a zod schema: every event a store reads back is parsed by it,
 * so a corrupt or foreign row stops the reader loudly instead of becoming a conversation state
 * nobody decided. The schema mirrors `GraftEvent` (src/core/events.ts, which may import no
 * package) exactly; the type assertions at the end fail to compile if the two drift apart.
 *
 * Older versions are brought up to `EVENT_VERSION` by `EVENT_MIGRATIONS`, one step per version,
 * before the current schema parses them.
 */
import { z } from 'zod';
import { InvariantViolation } from '../core/errors.js';
import { EVENT_VERSION, type GraftEvent } from '../core/events.js';
import type { AttemptId, CallId, EffectId, IdempotencyKey, MessageId, ReplyId } from '../core/ids.js';

/** An id of the log: a string, branded as the core's type (the core made it, or a parser did). */
const id = <T extends string>(kind: string) =>
  z.custom<T>((value) => typeof value === 'string', { message: `${kind} must be a string` });

const messageId = id<MessageId>('a message id');
const attemptId = id<AttemptId>('an attempt id');
const callId = id<CallId>('a call id');
const effectId = id<EffectId>('an effect id');
const replyId = id<ReplyId>('a reply id');
const idempotencyKey = id<IdempotencyKey>('an idempotency key');

/** Counts and sequence numbers are integers; times in ms need not be (an injected clock may be virtual). */
const int = z.number().int();
const count = int.nonnegative();
const ms = z.number();

// The Responses API items graft keeps (src/core/items.ts).
const inputContentPart = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('input_text'), text: z.string() }),
  z.strictObject({
    type: z.literal('output_text'),
    text: z.string(),
    annotations: z.array(z.unknown()).optional(),
  }),
]);
const inputMessageItem = z.strictObject({
  type: z.literal('message'),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([z.string(), z.array(inputContentPart)]),
});
const functionCallFields = {
  type: z.literal('function_call'),
  call_id: z.string(),
  name: z.string(),
  arguments: z.string(),
  status: z.enum(['in_progress', 'completed', 'incomplete']).optional(),
};
const functionCallItem = z.strictObject({ ...functionCallFields, id: z.string().optional() });
const functionCallOutputItem = z.strictObject({
  type: z.literal('function_call_output'),
  call_id: z.string(),
  output: z.string(),
});
const reasoningItem = z.strictObject({
  type: z.literal('reasoning'),
  id: z.string(),
  summary: z.array(z.strictObject({ type: z.literal('summary_text'), text: z.string() })),
  encrypted_content: z.string().nullable().optional(),
});
const inputItem = z.discriminatedUnion('type', [
  inputMessageItem,
  functionCallItem,
  functionCallOutputItem,
  reasoningItem,
]);
const outputMessageItem = z.strictObject({
  type: z.literal('message'),
  id: z.string(),
  role: z.literal('assistant'),
  status: z.enum(['completed', 'in_progress', 'incomplete']),
  content: z.array(
    z.strictObject({ type: z.literal('output_text'), text: z.string(), annotations: z.array(z.unknown()) }),
  ),
});
const outputItem = z.discriminatedUnion('type', [
  outputMessageItem,
  z.strictObject({ ...functionCallFields, id: z.string() }),
  reasoningItem,
]);
const usage = z.strictObject({
  inputTokens: count,
  cachedInputTokens: count,
  outputTokens: count,
  reasoningTokens: count,
});

const contextEntry = z.strictObject({
  item: inputItem,
  messageId: messageId.optional(),
  replyId: replyId.optional(),
  effect: z
    .strictObject({ effectId, status: z.enum(['awaiting', 'running', 'done', 'failed', 'unknown']) })
    .optional(),
  answers: z.string().optional(),
});
const classifiedCall = z.strictObject({
  toolCallId: z.string(),
  name: z.string(),
  arguments: z.string(),
  kind: z.enum(['read', 'write', 'invalid']),
  error: z.string().optional(),
  idempotencyKey: idempotencyKey.optional(),
  approval: z.strictObject({ timeoutMs: ms }).optional(),
});
const modelCallReason = z.enum([
  'start',
  'continue',
  'rebase',
  'retry',
  'restart',
  'stateless',
  'follow-up',
  'steer',
]);
const failureKind = z.enum(['retryable', 'terminal', 'chain-broken', 'aborted', 'timeout', 'takeover']);
const refusalReason = z.enum([
  'rebase',
  'invalid',
  'duplicate-key',
  'duplicate-call',
  'blocked',
  'awaiting-approval',
]);
const replyKind = z.enum(['reply', 'follow-up', 'fallback', 'operator']);
const unknownCause = z.enum(['timeout', 'hang', 'error', 'owner-lost']);

/** The fields the log adds to every body. */
const logged = { v: z.literal(EVENT_VERSION), seq: int.positive(), at: ms };

/** The current version of every event type, one strict object each (an unknown field is an error). */
const eventSchemas = [
  z.strictObject({
    type: z.literal('message.received'),
    messageId,
    text: z.string(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    ...logged,
  }),
  z.strictObject({
    type: z.literal('attempt.started'),
    attemptId,
    turn: count,
    reason: z.enum(['message', 'follow-up']),
    owner: z.string(),
    leaseUntil: ms,
    ...logged,
  }),
  z.strictObject({ type: z.literal('attempt.superseded'), attemptId, byMessageId: messageId, ...logged }),
  z.strictObject({ type: z.literal('attempt.failed'), attemptId, reason: z.string(), ...logged }),
  z.strictObject({
    type: z.literal('model.requested'),
    attemptId,
    callId,
    parent: callId.nullable(),
    entries: z.array(contextEntry),
    reason: modelCallReason,
    stateless: z.boolean(),
    owner: z.string(),
    ...logged,
  }),
  z.strictObject({
    type: z.literal('model.responded'),
    callId,
    responseId: z.string(),
    output: z.array(outputItem),
    usage,
    calls: z.array(classifiedCall),
    ...logged,
  }),
  z.strictObject({
    type: z.literal('model.failed'),
    callId,
    kind: failureKind,
    message: z.string(),
    retryAfterMs: ms.nullable(),
    usage: usage.optional(),
    ...logged,
  }),
  z.strictObject({
    type: z.literal('effect.started'),
    attemptId,
    callId,
    owner: z.string(),
    leaseUntil: ms,
    effects: z.array(
      z.strictObject({
        effectId,
        toolCallId: z.string(),
        tool: z.string(),
        arguments: z.string(),
        idempotencyKey,
        generation: int.min(1).optional(),
        approval: z.strictObject({ expiresAt: ms }).optional(),
      }),
    ),
    ...logged,
  }),
  z.strictObject({
    type: z.literal('effect.approved'),
    effectId,
    operator: z.string(),
    note: z.string().optional(),
    owner: z.string(),
    leaseUntil: ms,
    request: z.strictObject({ tool: z.string(), arguments: z.string(), idempotencyKey }),
    ...logged,
  }),
  z.strictObject({
    type: z.literal('effect.rejected'),
    effectId,
    cause: z.enum(['rejected', 'expired', 'withdrawn']),
    operator: z.string().optional(),
    note: z.string().optional(),
    ...logged,
  }),
  z.strictObject({
    type: z.literal('effect.settled'),
    effectId,
    outcome: z.enum(['done', 'failed']),
    output: z.string(),
    fenced: z.literal(true).optional(),
    late: z.literal(true).optional(),
    warning: z.string().optional(),
    operator: z.string().optional(),
    ...logged,
  }),
  z.strictObject({
    type: z.literal('effect.unknown'),
    effectId,
    reason: z.string(),
    cause: unknownCause,
    reconciler: z.string().nullable(),
    until: ms.optional(),
    late: z.literal(true).optional(),
    ...logged,
  }),
  z.strictObject({ type: z.literal('effect.checked'), effectId, note: z.string(), ...logged }),
  z.strictObject({
    type: z.literal('lease.renewed'),
    owner: z.string(),
    until: ms,
    attempts: z.array(attemptId),
    effects: z.array(effectId),
    ...logged,
  }),
  z.strictObject({ type: z.literal('lease.claimed'), attemptId, owner: z.string(), until: ms, ...logged }),
  z.strictObject({
    type: z.literal('lease.released'),
    owner: z.string(),
    attempts: z.array(attemptId),
    effects: z.array(effectId),
    ...logged,
  }),
  z.strictObject({
    type: z.literal('tool.refused'),
    callId,
    refusals: z.array(z.strictObject({ toolCallId: z.string(), reason: refusalReason, output: z.string() })),
    ...logged,
  }),
  z.strictObject({
    type: z.literal('tool.read'),
    callId,
    toolCallId: z.string(),
    ok: z.boolean(),
    output: z.string(),
    ...logged,
  }),
  z.strictObject({
    type: z.literal('reply.committed'),
    attemptId: attemptId.nullable(),
    replyId,
    text: z.string(),
    covers: z.array(messageId),
    callId: callId.nullable(),
    kind: replyKind,
    needsHuman: z.boolean(),
    operator: z.string().optional(),
    ...logged,
  }),
  z.strictObject({ type: z.literal('conversation.taken-over'), operator: z.string(), ...logged }),
  z.strictObject({ type: z.literal('conversation.released'), operator: z.string(), ...logged }),
  z.strictObject({ type: z.literal('reply.delivered'), replyId, deliveryId: z.string(), ...logged }),
  z.strictObject({
    type: z.literal('reply.dead-lettered'),
    replyId,
    deliveryId: z.string(),
    attempts: count,
    lastError: z.string(),
    reason: z.enum(['attempts', 'age']),
    ...logged,
  }),
  z.strictObject({
    type: z.literal('reply.redelivery-requested'),
    replyId,
    deliveryId: z.string(),
    ...logged,
  }),
  z.strictObject({
    type: z.literal('reply.undelivered'),
    replyId,
    deliveryId: z.string(),
    reason: z.literal('no-target'),
    ...logged,
  }),
] as const;

/** An event of the current version (`EVENT_VERSION`), exactly as `GraftEvent` describes it. */
export const graftEventSchema = z.discriminatedUnion('type', eventSchemas);

/**
 * A step from one version of the format to the next: it receives an event of version `from` (a
 * plain JSON object, already checked to carry `v: from`) and returns it as version `from + 1`.
 * A step is written against the old JSON, not against today's types, and never changes again.
 */
export type EventMigration = (event: Record<string, unknown>) => Record<string, unknown>;

/**
 * The steps to the current version, by the version they start from. v1 is current (every later
 * field is optional or belongs to a new event type, so v1 logs parse as they are): empty until
 * the format changes incompatibly. Then: bump `EVENT_VERSION`, add `1: (e) => ({ ...e, v: 2, … })`
 * here, and keep the v1 fixture log loading.
 */
export const EVENT_MIGRATIONS: Readonly<Record<number, EventMigration>> = {};

/** Where an event was read from, for the error that names it. */
export interface EventSource {
  tenantId: string;
  conversationId: string;
  seq: number;
}

/**
 * Parses a stored event (the JSON value of its row), migrating an older version to the current
 * one first. Throws `InvariantViolation` naming the conversation, the seq and the path of the
 * field that does not parse: the log is graft's own, so a bad row is a bug or a corruption, and
 * reading on would decide from a state nobody wrote.
 *
 * @example
 * const event = parseEvent(JSON.parse(row.body), { tenantId: 't1', conversationId: 'c1', seq: row.seq });
 */
export function parseEvent(
  raw: unknown,
  where: EventSource,
  migrations: Readonly<Record<number, EventMigration>> = EVENT_MIGRATIONS,
): GraftEvent {
  const fail = (detail: string) =>
    new InvariantViolation(
      `event ${where.seq} of conversation ${where.tenantId}/${where.conversationId} does not parse: ${detail}`,
    );
  const current = upgrade(raw, migrations, fail);
  const result = graftEventSchema.safeParse(current);
  if (!result.success) throw fail(describeIssues(result.error.issues, current));
  return result.data;
}

/** Applies the migration steps from the event's version up to the current one. */
function upgrade(
  raw: unknown,
  migrations: Readonly<Record<number, EventMigration>>,
  fail: (detail: string) => Error,
): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw fail('(root): expected a JSON object');
  let event = raw as Record<string, unknown>;
  const v = event.v;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw fail(`v: expected a format version (an integer), got ${JSON.stringify(v)}`);
  if (v > EVENT_VERSION)
    throw fail(`v: format version ${v} is newer than this graft reads (${EVENT_VERSION}): upgrade graft`);
  for (let from = v; from < EVENT_VERSION; from++) {
    const step = migrations[from];
    if (!step) throw fail(`v: no migration from format version ${from} to ${from + 1}`);
    event = step(event);
    if (event.v !== from + 1)
      throw fail(
        `v: the migration from version ${from} gave version ${JSON.stringify(event.v)}, not ${from + 1}`,
      );
  }
  return event;
}

/** `path: message` for each issue, with the event's type when the path is inside one. */
function describeIssues(issues: readonly z.core.$ZodIssue[], event: unknown): string {
  const type = (event as { type?: unknown }).type;
  const lines = issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`);
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : '';
  return `${typeof type === 'string' ? `${type}: ` : ''}${lines.join('; ')}${more}`;
}

// The schema and the core's type are one: each must be exactly the other, field by field. `Plain`
// writes both the same way (an intersection as one object, `?: T` as `?: T | undefined`) so that
// only a real difference is one.
type Exactly<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Plain<T> = unknown extends T
  ? T
  : T extends string | number | boolean | null | undefined
    ? T
    : T extends readonly (infer U)[]
      ? Plain<U>[]
      : { [K in keyof T]: Plain<T[K]> };
type Parsed = z.infer<typeof graftEventSchema>;
type SameEvent<T extends GraftEvent['type']> = Exactly<
  Plain<Extract<Parsed, { type: T }>>,
  Plain<Extract<GraftEvent, { type: T }>>
>;
/** The event types whose parsed shape differs from the core's: none, or this does not compile. */
type Mismatched = { [T in GraftEvent['type']]: SameEvent<T> extends true ? never : T }[GraftEvent['type']];
const schemaMatchesEvents: [Mismatched] extends [never] ? true : Mismatched = true;
const schemaCoversEveryType: Exactly<Parsed['type'], GraftEvent['type']> = true;
void schemaMatchesEvents;
void schemaCoversEveryType;

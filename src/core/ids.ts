/**
 * Branded ids. The core derives its own ids from the conversation's sequence numbers (an id made
 * at seq 12 is `att_12`), so decisions are deterministic and need no randomness; ids are unique
 * within a conversation, and (tenant, conversation, id) is unique everywhere.
 */
import { InvalidInputError, TerminalError } from './errors.js';

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type TenantId = Brand<string, 'TenantId'>;
export type ConversationId = Brand<string, 'ConversationId'>;
export type MessageId = Brand<string, 'MessageId'>;
export type AttemptId = Brand<string, 'AttemptId'>;
export type CallId = Brand<string, 'CallId'>;
export type EffectId = Brand<string, 'EffectId'>;
export type ReplyId = Brand<string, 'ReplyId'>;
export type IdempotencyKey = Brand<string, 'IdempotencyKey'>;

const MAX_EXTERNAL_ID_LENGTH = 200;

/** Why `value` is not a good external id (null when it is one). */
function badExternalId(kind: string, value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_EXTERNAL_ID_LENGTH) {
    return `${kind} must be a non-empty string of at most ${MAX_EXTERNAL_ID_LENGTH} characters`;
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f]/.test(value)) return `${kind} must not contain control characters`;
  return null;
}

function externalId<T>(kind: 'conversationId' | 'messageId', value: unknown): T {
  const bad = badExternalId(kind, value);
  if (bad !== null) throw new InvalidInputError(kind, bad);
  return value as T;
}

/** Parses a tenant id (from an API key, a store row, or the library's configuration). */
export function parseTenantId(value: unknown): TenantId {
  const bad = badExternalId('tenantId', value);
  // A tenant id comes from graft's own configuration or key store, not from a message: a bad one
  // is not the caller's input to fix, and no retry helps.
  if (bad !== null) throw new TerminalError(bad, 'invalid_tenant_id');
  return value as TenantId;
}
/** Parses a conversation id chosen by the channel. */
export const parseConversationId = (value: unknown): ConversationId => externalId('conversationId', value);
/** Parses a channel's message id (the de-duplication key of inbound messages). */
export const parseMessageId = (value: unknown): MessageId => externalId('messageId', value);

export const attemptIdAt = (seq: number): AttemptId => `att_${seq}` as AttemptId;
export const callIdAt = (seq: number): CallId => `call_${seq}` as CallId;
export const effectIdAt = (seq: number, index: number): EffectId => `eff_${seq}_${index}` as EffectId;
export const replyIdAt = (seq: number): ReplyId => `rep_${seq}` as ReplyId;
export const asIdempotencyKey = (value: string): IdempotencyKey => value as IdempotencyKey;

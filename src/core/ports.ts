import { GraftError } from './errors.js';
import type { ClassifiedCall, EventBody, GraftEvent, ReplyKind } from './events.js';
import {
  type ConversationId,
  type MessageId,
  parseConversationId,
  parseTenantId,
  type ReplyId,
  type TenantId,
} from './ids.js';
import type { KeyContext } from './tool-port.js';

export type { ModelClient, ModelRequest, ModelResult } from './model-port.js';

/** Another event got in first: reload from the store and decide again. */
export class ConflictError extends GraftError {
  override readonly name = 'ConflictError';
  readonly kind = 'retryable';
  readonly code = 'conflict';
  constructor(
    readonly key: ConversationKey,
    readonly expectedSeq: number,
    readonly actualSeq: number,
  ) {
    super(
      `conversation ${key.tenantId}/${key.conversationId}: expected to append after seq ${expectedSeq}, but the log is at ${actualSeq}`,
    );
  }
}

/** The same inbound message (channel message id) was appended before. */
export class DuplicateMessageError extends GraftError {
  override readonly name = 'DuplicateMessageError';
  readonly kind = 'terminal';
  readonly code = 'duplicate_message';
  constructor(
    readonly key: ConversationKey,
    readonly messageId: MessageId | string,
  ) {
    super(`conversation ${key.tenantId}/${key.conversationId}: message ${messageId} was already received`);
  }
}

/** A conversation's identity in a store: conversations are tenant-scoped. */
/** A reply's delivery id: stable, so receivers can de-duplicate retried deliveries. */
export function deliveryIdOf(key: ConversationKey, replyId: string): string {
  return `${key.tenantId}:${key.conversationId}:${replyId}`;
}

export interface ConversationKey {
  tenantId: TenantId;
  conversationId: ConversationId;
}

/**
 * A conversation key from strings that are already known to be good ids (tests, tables of
 * fixtures); input from outside goes through `parseTenantId` and `parseConversationId`.
 *
 * @example
 * await store.read(conversationKey('t1', 'c1'), 0);
 */
export const conversationKey = (tenantId: string, conversationId: string): ConversationKey => ({
  tenantId: parseTenantId(tenantId),
  conversationId: parseConversationId(conversationId),
});

/** The same idempotency key was used again for a different request. */
export class IdempotencyConflictError extends GraftError {
  override readonly name = 'IdempotencyConflictError';
  readonly kind = 'terminal';
  readonly code = 'idempotency_conflict';
  constructor(
    readonly key: ConversationKey,
    readonly idempotencyKey: string,
  ) {
    super(
      `conversation ${key.tenantId}/${key.conversationId}: idempotency key ${idempotencyKey} was used for a different request`,
    );
  }
}

/** A row of the effect ledger: the latest effect of an idempotency key. */
export interface LedgerEntry {
  tenantId: TenantId;
  conversationId: ConversationId;
  idempotencyKey: string;
  /** A hash of the tool and its canonical arguments. */
  requestHash: string;
  effectId: string;
  tool: string;
  status: 'running' | 'done' | 'failed' | 'unknown';
  output: string | null;
}

/** A row of the reply outbox. */
export interface OutboxEntry {
  tenantId: TenantId;
  conversationId: ConversationId;
  replyId: string;
  deliveryId: string;
  text: string;
  covers: string[];
  kind: ReplyKind;
  committedAt: number;
  deliveredAt: number | null;
}

export interface AppendOptions {
  /** Whether the conversation still has work after these events (listed by `unfinished()`). */
  unfinished?: boolean;
}

/**
 * The log of every conversation, with its projections. `append` is the gate: it writes `events`
 * (numbered from `expectedSeq + 1`) only if the log ends at `expectedSeq`, atomically with the
 * projections (message de-duplication, effect ledger, reply outbox), or throws `ConflictError`;
 * a message id already in the conversation throws `DuplicateMessageError`; an idempotency key
 * reused for another request throws `IdempotencyConflictError`.
 */
export interface EventStore {
  append(
    key: ConversationKey,
    expectedSeq: number,
    events: readonly GraftEvent[],
    options?: AppendOptions,
  ): Promise<void>;
  /** The events with seq > `afterSeq`, in order. */
  read(key: ConversationKey, afterSeq: number): Promise<GraftEvent[]>;
  /** Conversations ordered by (tenant, conversation id), optionally of one tenant, after a cursor. */
  conversations(options?: {
    tenantId?: TenantId;
    afterConversationId?: ConversationId;
    limit?: number;
  }): Promise<ConversationKey[]>;
  /** Conversations whose last append said they had work left. */
  unfinished(): Promise<ConversationKey[]>;
  ledger(key: ConversationKey, idempotencyKey: string): Promise<LedgerEntry | null>;
  /** Outbox rows, oldest first; only undelivered ones unless `all`. */
  outbox(options?: { all?: boolean; limit?: number }): Promise<OutboxEntry[]>;
  /**
   * Calls `listener` after any instance appends to a conversation (best effort: a missed call is
   * made up by polling). Resolves to a function that stops watching.
   */
  watch?(listener: (key: ConversationKey, seq: number) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * Sends a committed reply to the customer's channel. Must tolerate the same delivery id twice.
 * Resolves `delivered` once the channel accepted it, or `no-target` when there is nowhere to send
 * it (the reply is then not marked delivered, and not retried); throws to be retried.
 */
export interface Deliverer {
  deliver(delivery: Delivery): Promise<DeliveryOutcome>;
}

export type DeliveryOutcome = 'delivered' | 'no-target';

/**
 * How long a failing delivery is retried before it is dead-lettered: at most `attempts` tries, and
 * no try later than `maxAgeMs` after the reply was committed (or redelivery was asked for). Between
 * tries it waits `backoffMs`, doubling up to `backoffMaxMs`.
 */
export interface DeliveryBounds {
  attempts: number;
  maxAgeMs: number;
  backoffMs: number;
  backoffMaxMs: number;
}

/**
 * 20 tries within 24 hours, backing off from 0.5 s to once every 10 minutes: a receiver that
 * stays down for about an hour and a half gets the reply dead-lettered.
 */
export const defaultDeliveryBounds: DeliveryBounds = {
  attempts: 20,
  maxAgeMs: 24 * 60 * 60 * 1000,
  backoffMs: 500,
  backoffMaxMs: 10 * 60_000,
};

export interface Delivery {
  deliveryId: string;
  tenantId: TenantId;
  conversationId: ConversationId;
  replyId: ReplyId;
  text: string;
  covers: MessageId[];
  kind: ReplyKind;
}

/** The clock, injected so that the simulator can run on virtual time. */
export interface Clock {
  now(): number;
  /** Calls `fn` at time `at` (or soon after); returns a function that cancels it. */
  setTimer(at: number, fn: () => void): () => void;
}

/**
 * How a tool run ended. `done`: it returned (`warning` says why `output` is a placeholder: the
 * result could not be serialised). `rejected`: it said that nothing happened (a `ToolRejection`;
 * for a read, any failure). `unknown`: a write threw something else, so it may have happened.
 */
export type ToolRunResult =
  | { outcome: 'done'; output: string; warning?: string }
  | { outcome: 'rejected'; output: string; fenced?: boolean }
  | { outcome: 'unknown'; output: string; message: string };

/** Classifies and runs tool calls (validation, idempotency keys, execution). */
export interface ToolRunner {
  classify(call: { toolCallId: string; name: string; arguments: string }, ctx: KeyContext): ClassifiedCall;
  /** Runs a call already classified as valid; never rejects. */
  run(
    call: { tool: string; arguments: string },
    ctx: KeyContext & {
      attemptId: string;
      toolCallId: string;
      effectId: string | null;
      idempotencyKey: string | null;
      signal: AbortSignal;
    },
  ): Promise<ToolRunResult>;
  /**
   * Asks a write tool's `reconcile` whether the write happened (`happened: false` is fenced by the
   * tool); null when the tool has none.
   */
  reconcile(
    call: { tool: string; idempotencyKey: string },
    ctx: KeyContext,
  ): Promise<{ happened: true; output: string } | { happened: false } | null>;
}

export type { EventBody };

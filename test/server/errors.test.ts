import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/util/args.js';
import { ApiError as EmulatorApiError } from '../../src/emulator/api-error.js';
import * as library from '../../src/index.js';
import {
  ChainBrokenError,
  ConflictError,
  DuplicateMessageError,
  GraftError,
  IdempotencyConflictError,
  InvalidInputError,
  InvariantViolation,
  ModelCallAborted,
  OperatorError,
  RetryableError,
  TerminalError,
  ToolRejection,
} from '../../src/index.js';
import { conversationKey, type ConversationKey } from '../../src/core/ports.js';
import type { GraftEvent } from '../../src/core/events.js';
import { ApiError, toApiError } from '../../src/server/errors.js';
import { WebhookError } from '../../src/server/webhook.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { testService } from './helpers.js';

/** A memory store whose appends or reads fail while told to, as a store that is down does. */
class FailingStore extends MemoryStore {
  failAppend: RetryableError | null = null;
  failRead: RetryableError | null = null;
  failList: Error | null = null;
  override conversations(...args: Parameters<MemoryStore['conversations']>) {
    return this.failList ? Promise.reject(this.failList) : super.conversations(...args);
  }
  override append(...args: Parameters<MemoryStore['append']>): Promise<void> {
    return this.failAppend ? Promise.reject(this.failAppend) : super.append(...args);
  }
  override read(key: ConversationKey, afterSeq: number): Promise<GraftEvent[]> {
    return this.failRead ? Promise.reject(this.failRead) : super.read(key, afterSeq);
  }
}

const key = conversationKey('t', 'c');

/** One of every error class in src, with the kind and code docs/service.md gives it. */
const EVERY_ERROR: [Error, string, string][] = [
  [new RetryableError('store down', 2_000), 'retryable', 'retryable'],
  [new RetryableError('429', 1_000, 'rate_limit_exceeded'), 'retryable', 'rate_limit_exceeded'],
  [new TerminalError('no'), 'terminal', 'terminal'],
  [new InvalidInputError('text', 'bad text'), 'invalid-input', 'invalid_text'],
  [new InvariantViolation('bug'), 'invariant', 'invariant_violation'],
  [new ConflictError(key, 1, 2), 'retryable', 'conflict'],
  [new DuplicateMessageError(key, 'm1'), 'terminal', 'duplicate_message'],
  [new IdempotencyConflictError(key, 'k'), 'terminal', 'idempotency_conflict'],
  [new ChainBrokenError('gone'), 'retryable', 'chain_broken'],
  [new ModelCallAborted(), 'terminal', 'model_call_aborted'],
  [new ToolRejection('no such order'), 'terminal', 'rejected'],
  [new ToolRejection('fenced', 'fenced'), 'terminal', 'fenced'],
  [new OperatorError('request_not_pending', 'request eff_5_1 expired'), 'terminal', 'request_not_pending'],
  [new UsageError('bad flag'), 'invalid-input', 'usage'],
  [new WebhookError('503', 503), 'retryable', 'webhook_failed'],
  [new ApiError(404, 'not_found', 'no'), 'terminal', 'not_found'],
  [
    new EmulatorApiError(429, 'slow down', 'requests', null, 'rate_limit_exceeded'),
    'retryable',
    'rate_limit_exceeded',
  ],
];

describe('error classes', () => {
  it('are all GraftErrors with the kind and code the docs give them', () => {
    for (const [error, kind, code] of EVERY_ERROR) {
      expect(error, error.name).toBeInstanceOf(GraftError);
      expect(error, error.name).toBeInstanceOf(Error);
      expect({
        name: error.name,
        kind: (error as GraftError).kind,
        code: (error as GraftError).code,
      }).toEqual({ name: error.name, kind, code });
    }
  });

  it('keeps InvalidInputError a TypeError, and subclasses tell each other apart', () => {
    const invalid = new InvalidInputError('messageId', 'bad id');
    expect(invalid).toBeInstanceOf(TypeError);
    expect(invalid).toBeInstanceOf(GraftError);
    expect(new RetryableError('x')).not.toBeInstanceOf(TerminalError);
    expect(new ConflictError(key, 1, 2)).not.toBeInstanceOf(RetryableError);
    expect(new Error('plain')).not.toBeInstanceOf(GraftError);
    expect(new TypeError('plain')).not.toBeInstanceOf(GraftError);
    expect(new RetryableError('x', 1_500).retryAfterMs).toBe(1_500);
    expect(new TerminalError('x').retryAfterMs).toBeNull();
  });

  it('lists every exported error class, with its code, in docs/service.md', () => {
    const docs = readFileSync(join(import.meta.dirname, '../../docs/service.md'), 'utf8');
    const exported = Object.entries(library).filter(
      ([, value]) => typeof value === 'function' && value.prototype instanceof Error,
    );
    expect(exported.length).toBeGreaterThanOrEqual(10);
    for (const [name] of exported) expect(docs, name).toContain(`\`${name}\``);
    for (const [error, kind, code] of EVERY_ERROR) {
      const row = docs.split('\n').find((line) => line.startsWith(`| \`${error.name}\``));
      expect(row, error.name).toBeDefined();
      expect(row, error.name).toContain(`\`${kind}\``);
      if (error.name !== 'ApiError') expect(row, error.name).toContain(`\`${code}\``);
    }
  });
});

describe('errors as HTTP answers (toApiError)', () => {
  it('maps each kind as docs/service.md says', () => {
    const answer = (error: unknown) => {
      const a = toApiError(error);
      return [a.status, a.code, a.headers['retry-after'] ?? null];
    };
    expect(answer(new RetryableError('down', 2_500))).toEqual([503, 'unavailable', '3']);
    expect(answer(new RetryableError('down'))).toEqual([503, 'unavailable', '1']);
    expect(answer(new ConflictError(key, 1, 2))).toEqual([503, 'unavailable', '1']);
    expect(answer(new InvalidInputError('conversationId', 'bad'))).toEqual([
      400,
      'invalid_conversation_id',
      null,
    ]);
    expect(answer(new InvalidInputError('text', 'long', 'too-long'))).toEqual([
      413,
      'message_too_long',
      null,
    ]);
    expect(answer(new UsageError('bad'))).toEqual([400, 'invalid_request', null]);
    expect(answer(new DuplicateMessageError(key, 'm1'))).toEqual([409, 'message_id_conflict', null]);
    expect(answer(new IdempotencyConflictError(key, 'k'))).toEqual([409, 'idempotency_conflict', null]);
    expect(answer(new TerminalError('the log was written by a newer graft'))).toEqual([
      422,
      'unprocessable',
      null,
    ]);
    expect(answer(new OperatorError('request_not_found', 'no request'))).toEqual([404, 'not_found', null]);
    for (const code of ['request_not_pending', 'already_taken_over', 'not_taken_over'] as const)
      expect(answer(new OperatorError(code, 'refused'))).toEqual([409, code, null]);
    expect(answer(new OperatorError('invalid_operator_input', 'note is too long'))).toEqual([
      400,
      'invalid_request',
      null,
    ]);
    expect(toApiError(new OperatorError('request_not_pending', 'request eff_5_1 expired')).message).toBe(
      'request eff_5_1 expired',
    );
    expect(answer(new InvariantViolation('seq gap'))).toEqual([500, 'internal', null]);
    expect(answer(new Error('who knows'))).toEqual([500, 'internal', null]);
    const refused = new ApiError(429, 'rate_limited', 'slow down', { 'retry-after': '5' });
    expect(toApiError(refused)).toBe(refused);
    expect(refused.kind).toBe('retryable');
    expect(refused.retryAfterMs).toBe(5_000);
  });
});

describe('a store that is unavailable, through the HTTP API', () => {
  let t: Awaited<ReturnType<typeof testService>> | null = null;
  afterEach(async () => {
    await t?.close();
    t = null;
  });

  it('answers 503 with Retry-After when an append throws a RetryableError, and 202 once it is back', async () => {
    const store = new FailingStore();
    t = await testService({ store });
    store.failAppend = new RetryableError('SQLite: database is locked', 2_000, 'SQLITE_BUSY');
    const refused = await t.post('c1', 'm1', 'Hello!');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('2');
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('unavailable');
    expect(body.error.message).not.toContain('SQLite');
    store.failAppend = null;
    expect((await t.post('c1', 'm1', 'Hello!')).status).toBe(202);
    await t.service.idle();
  });

  it('answers /healthz with 503 and Retry-After while the store fails, and 200 once it is back', async () => {
    const store = new FailingStore();
    t = await testService({ store });
    store.failList = new RetryableError('PostgreSQL: connection refused', 3_000, 'ECONNREFUSED');
    const down = await t.service.app.request('/healthz');
    expect([down.status, down.headers.get('retry-after')]).toEqual([503, '3']);
    store.failList = new Error('a bug');
    const broken = await t.service.app.request('/healthz');
    expect([broken.status, broken.headers.get('retry-after')]).toEqual([503, '1']);
    store.failList = null;
    expect((await t.service.app.request('/healthz')).status).toBe(200);
  });

  it('answers 503 with Retry-After when loading a conversation throws a RetryableError', async () => {
    const store = new FailingStore();
    t = await testService({ store });
    store.failRead = new RetryableError('PostgreSQL: connection refused', null, 'ECONNREFUSED');
    const posted = await t.post('c2', 'm1', 'Hello!');
    expect(posted.status).toBe(503);
    expect(posted.headers.get('retry-after')).toBe('1');
    const read = await t.request('GET', '/v1/conversations/c2');
    expect(read.status).toBe(503);
    expect(read.headers.get('retry-after')).toBe('1');
    expect(t.errors.length).toBeGreaterThan(0);
    store.failRead = null;
  });
});

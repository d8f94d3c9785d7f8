import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvariantViolation } from '../src/core/errors.js';
import { EVENT_VERSION, type EventBody, type EventType, type GraftEvent } from '../src/core/events.js';
import { runStrategy } from '../src/sim/run.js';
import { conversationKey } from '../src/core/ports.js';
import { MemoryStore } from '../src/store/memory/memory-store.js';
import { type EventMigration, parseEvent } from '../src/store/event-schema.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';

const where = { tenantId: 't1', conversationId: 'c1', seq: 1 };
const logged = (body: EventBody, seq: number): GraftEvent => ({
  ...body,
  v: EVENT_VERSION,
  seq,
  at: 1_000 * seq,
});
const usage = { inputTokens: 10, cachedInputTokens: 2, outputTokens: 3, reasoningTokens: 1 };

/** One body of every event type, with every optional field present (a type left out fails to compile). */
const oneOfEach: { [T in EventType]: Extract<EventBody, { type: T }> } = {
  'message.received': {
    type: 'message.received',
    messageId: 'm1' as never,
    text: 'Hi',
    metadata: { channel: 'web', n: [1] },
  },
  'attempt.started': {
    type: 'attempt.started',
    attemptId: 'att_2' as never,
    turn: 1,
    reason: 'message',
    owner: 'i1',
    leaseUntil: 15_000,
  },
  'attempt.superseded': {
    type: 'attempt.superseded',
    attemptId: 'att_2' as never,
    byMessageId: 'm2' as never,
  },
  'attempt.failed': { type: 'attempt.failed', attemptId: 'att_2' as never, reason: 'no reply' },
  'model.requested': {
    type: 'model.requested',
    attemptId: 'att_2' as never,
    callId: 'call_3' as never,
    parent: null,
    entries: [
      { item: { type: 'message', role: 'user', content: 'Hi' }, messageId: 'm1' as never },
      {
        item: {
          type: 'message',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Hello', annotations: [] }],
        },
        replyId: 'rep_9' as never,
      },
      {
        item: { type: 'function_call', call_id: 'fc1', name: 'create_order', arguments: '{}' },
        effect: { effectId: 'eff_5_0' as never, status: 'unknown' },
      },
      { item: { type: 'function_call_output', call_id: 'fc1', output: 'ok' }, answers: 'fc1' },
      {
        item: {
          type: 'reasoning',
          id: 'rs_1',
          summary: [{ type: 'summary_text', text: 'think' }],
          encrypted_content: null,
        },
      },
    ],
    reason: 'steer',
    stateless: true,
    owner: 'i1',
  },
  'model.responded': {
    type: 'model.responded',
    callId: 'call_3' as never,
    responseId: 'resp_1',
    output: [
      {
        type: 'message',
        id: 'msg_1',
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: 'Done', annotations: [] }],
      },
      {
        type: 'function_call',
        id: 'fc_1',
        call_id: 'fc1',
        name: 'create_order',
        arguments: '{}',
        status: 'completed',
      },
      { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'abc' },
    ],
    usage,
    calls: [
      {
        toolCallId: 'fc1',
        name: 'create_order',
        arguments: '{}',
        kind: 'write',
        idempotencyKey: 'create_order:k' as never,
        approval: { timeoutMs: 60_000 },
      },
      { toolCallId: 'fc2', name: 'nope', arguments: '{', kind: 'invalid', error: 'no such tool' },
    ],
  },
  'model.failed': {
    type: 'model.failed',
    callId: 'call_3' as never,
    kind: 'aborted',
    message: 'stream aborted',
    retryAfterMs: null,
    usage,
  },
  'effect.started': {
    type: 'effect.started',
    attemptId: 'att_2' as never,
    callId: 'call_3' as never,
    owner: 'i1',
    leaseUntil: 15_700,
    effects: [
      {
        effectId: 'eff_5_0' as never,
        toolCallId: 'fc1',
        tool: 'create_order',
        arguments: '{}',
        idempotencyKey: 'create_order:k#2' as never,
        generation: 2,
        approval: { expiresAt: 99_000 },
      },
    ],
  },
  'effect.approved': {
    type: 'effect.approved',
    effectId: 'eff_5_0' as never,
    operator: 'ana',
    note: 'ok',
    owner: 'i1',
    leaseUntil: 20_000,
    request: { tool: 'create_order', arguments: '{}', idempotencyKey: 'create_order:k#2' as never },
  },
  'effect.rejected': {
    type: 'effect.rejected',
    effectId: 'eff_5_0' as never,
    cause: 'rejected',
    operator: 'ana',
    note: 'no',
  },
  'conversation.taken-over': { type: 'conversation.taken-over', operator: 'ana' },
  'conversation.released': { type: 'conversation.released', operator: 'ana' },
  'effect.settled': {
    type: 'effect.settled',
    effectId: 'eff_5_0' as never,
    outcome: 'failed',
    output: 'no',
    fenced: true,
    late: true,
    warning: 'placeholder',
    operator: 'ana',
  },
  'effect.unknown': {
    type: 'effect.unknown',
    effectId: 'eff_5_0' as never,
    reason: 'threw',
    cause: 'hang',
    reconciler: 'i2',
    until: 30_000,
    late: true,
  },
  'effect.checked': { type: 'effect.checked', effectId: 'eff_5_0' as never, note: 'no reconcile' },
  'lease.renewed': {
    type: 'lease.renewed',
    owner: 'i1',
    until: 40_000,
    attempts: ['att_2' as never],
    effects: ['eff_5_0' as never],
  },
  'lease.claimed': { type: 'lease.claimed', attemptId: 'att_2' as never, owner: 'i2', until: 45_000 },
  'lease.released': {
    type: 'lease.released',
    owner: 'i1',
    attempts: ['att_2' as never],
    effects: ['eff_5_0' as never],
  },
  'tool.refused': {
    type: 'tool.refused',
    callId: 'call_3' as never,
    refusals: [{ toolCallId: 'fc1', reason: 'blocked', output: 'blocked' }],
  },
  'tool.read': { type: 'tool.read', callId: 'call_3' as never, toolCallId: 'fc3', ok: true, output: '{}' },
  'reply.committed': {
    type: 'reply.committed',
    attemptId: null,
    replyId: 'rep_9' as never,
    text: 'Sorry',
    covers: ['m1' as never],
    callId: null,
    kind: 'fallback',
    needsHuman: true,
    operator: 'ana',
  },
  'reply.delivered': { type: 'reply.delivered', replyId: 'rep_9' as never, deliveryId: 't1:c1:rep_9' },
  'reply.dead-lettered': {
    type: 'reply.dead-lettered',
    replyId: 'rep_9' as never,
    deliveryId: 't1:c1:rep_9',
    attempts: 3,
    lastError: 'reply webhook http://127.0.0.1:9/replies answered 500',
    reason: 'attempts',
  },
  'reply.redelivery-requested': {
    type: 'reply.redelivery-requested',
    replyId: 'rep_9' as never,
    deliveryId: 't1:c1:rep_9',
  },
  'reply.undelivered': {
    type: 'reply.undelivered',
    replyId: 'rep_9' as never,
    deliveryId: 't1:c1:rep_9',
    reason: 'no-target',
  },
};
const everyEvent = Object.values(oneOfEach).map((body, i) => logged(body, i + 1));

afterEach(() => vi.restoreAllMocks());

describe('the event schema', () => {
  it('round-trips one event of every type, with every optional field, through JSON and a SQLite store', async () => {
    for (const event of everyEvent)
      expect(parseEvent(JSON.parse(JSON.stringify(event)), { ...where, seq: event.seq })).toEqual(event);
    const store = new SqliteStore({ path: ':memory:' });
    try {
      const key = conversationKey('t1', 'c1');
      await store.append(key, 0, everyEvent);
      expect(await store.read(key, 0)).toEqual(everyEvent);
    } finally {
      await store.close();
    }
  });

  it('parses every event the adversarial world makes graft write (real shapes, not hand-written ones)', async () => {
    const written: GraftEvent[] = [];
    const append = MemoryStore.prototype.append;
    vi.spyOn(MemoryStore.prototype, 'append').mockImplementation(function (
      this: MemoryStore,
      key,
      expectedSeq,
      events,
      options,
    ) {
      written.push(...events);
      return append.call(this, key, expectedSeq, events, options);
    });
    await runStrategy('graft', {
      seed: 3,
      conversations: 30,
      strategies: ['graft'],
      faults: true,
      world: 'adversarial',
    });
    expect(written.length).toBeGreaterThan(100);
    for (const event of written)
      expect(parseEvent(JSON.parse(JSON.stringify(event)), { ...where, seq: event.seq })).toEqual(
        JSON.parse(JSON.stringify(event)),
      );
    expect(new Set(written.map((e) => e.type)).size).toBeGreaterThanOrEqual(12);
  });

  it('refuses a corrupt row with an error that names the conversation, the seq and the field', () => {
    const settled = logged(oneOfEach['effect.settled'], 7);
    const at = { tenantId: 't1', conversationId: 'c9', seq: 7 };
    const parse = (raw: unknown) => () => parseEvent(raw, at);
    expect(parse({ ...settled, outcome: 'maybe' })).toThrow(InvariantViolation);
    expect(parse({ ...settled, outcome: 'maybe' })).toThrow(
      /^event 7 of conversation t1\/c9 does not parse: effect\.settled: outcome: /,
    );
    expect(parse({ ...settled, late: false })).toThrow(/effect\.settled: late: /);
    expect(parse({ ...settled, colour: 'red' })).toThrow(/effect\.settled: .*colour/);
    const requested = logged(oneOfEach['model.requested'], 7) as Extract<
      GraftEvent,
      { type: 'model.requested' }
    >;
    const badEntry = { ...requested, entries: [{ item: { type: 'message', role: 'robot', content: 'x' } }] };
    expect(parse(badEntry)).toThrow(/model\.requested: entries\.0\.item\.role: /);
    expect(parse({ ...settled, type: 'effect.vanished' })).toThrow(/does not parse: .*type/);
    expect(parse({ ...settled, seq: 0 })).toThrow(/seq: /);
    expect(parse('{"type":')).toThrow(/\(root\): expected a JSON object/);
    expect(parse({ ...settled, v: undefined })).toThrow(/v: expected a format version/);
    expect(parse({ ...settled, v: EVENT_VERSION + 1 })).toThrow(/newer than this graft reads/);
  });

  it('refuses a corrupt row read from a SQLite store, naming it', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    try {
      const key = conversationKey('t1', 'c1');
      await store.append(key, 0, everyEvent.slice(0, 3));
      const body = JSON.stringify({ ...everyEvent[1], turn: 'one' });
      store.database.prepare('UPDATE events SET body = ? WHERE seq = 2').run(body);
      await expect(store.read(key, 0)).rejects.toThrow(
        /^event 2 of conversation t1\/c1 does not parse: attempt\.started: turn: /,
      );
      store.database.prepare('UPDATE events SET body = ? WHERE seq = 2').run('{"type": "attempt.started",');
      await expect(store.read(key, 0)).rejects.toThrow(/^event 2 of conversation t1\/c1 is not JSON/);
    } finally {
      await store.close();
    }
  });

  it('migrates an event of an older version, one step per version, before parsing it', () => {
    // A synthetic v0 that called the text of a message `body`: the mechanism a real v2 will use.
    const v0 = {
      type: 'message.received',
      messageId: 'm1',
      body: 'Hello',
      v: EVENT_VERSION - 1,
      seq: 1,
      at: 5,
    };
    const steps: Record<number, EventMigration> = {
      [EVENT_VERSION - 1]: ({ body, ...rest }) => ({ ...rest, text: body, v: EVENT_VERSION }),
    };
    expect(parseEvent(v0, where, steps)).toEqual({
      type: 'message.received',
      messageId: 'm1',
      text: 'Hello',
      v: EVENT_VERSION,
      seq: 1,
      at: 5,
    });
    // Without its step, or with a step that forgets to bump the version, the event is refused.
    expect(() => parseEvent(v0, where, {})).toThrow(
      new RegExp(`no migration from format version ${EVENT_VERSION - 1}`),
    );
    expect(() => parseEvent(v0, where, { [EVENT_VERSION - 1]: (e) => e })).toThrow(
      /the migration from version .* gave version/,
    );
    // An event of the current version goes through no step.
    const current = logged(oneOfEach['message.received'], 1);
    expect(parseEvent(current, where, { [EVENT_VERSION]: () => ({}) })).toEqual(current);
  });
});

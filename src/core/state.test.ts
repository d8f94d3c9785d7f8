import { describe, expect, it } from 'vitest';
import type { EventBody } from './events.js';
import { EVENT_VERSION } from './events.js';
import type { AttemptId, CallId, EffectId, MessageId, ReplyId } from './ids.js';
import { asIdempotencyKey, parseConversationId } from './ids.js';
import type { ConversationState } from './state.js';
import { evolve, initialState, unfinished } from './state.js';

const usage = { inputTokens: 1, cachedInputTokens: 0, outputTokens: 1, reasoningTokens: 0 };
const attemptId = 'att_2' as AttemptId;
const callId = 'call_3' as CallId;
const effectId = 'eff_5_1' as EffectId;

/** Folds event bodies into a state, one by one, as the shell does once they are appended. */
function fold(state: ConversationState, ...bodies: EventBody[]): ConversationState {
  for (const body of bodies)
    state = evolve(state, { ...body, v: EVENT_VERSION, seq: state.seq + 1, at: state.now + 1 });
  return state;
}

/** A conversation whose attempt asked for one write, at `status` of the write's life. */
function withWrite(): ConversationState {
  return fold(
    initialState(parseConversationId('c1')),
    { type: 'message.received', messageId: 'm1' as MessageId, text: 'a pizza' },
    { type: 'attempt.started', attemptId, turn: 1, reason: 'message', owner: 'me', leaseUntil: 10_000 },
    {
      type: 'model.requested',
      attemptId,
      callId,
      parent: null,
      entries: [],
      reason: 'start',
      stateless: false,
      owner: 'me',
    },
    {
      type: 'model.responded',
      callId,
      responseId: 'resp_1',
      usage,
      output: [{ type: 'function_call', id: 'fc_1', call_id: 'fc1', name: 'create_order', arguments: '{}' }],
      calls: [
        {
          toolCallId: 'fc1',
          name: 'create_order',
          arguments: '{}',
          kind: 'write',
          idempotencyKey: asIdempotencyKey('k1'),
        },
      ],
    },
    {
      type: 'effect.started',
      attemptId,
      callId,
      owner: 'me',
      leaseUntil: 10_000,
      effects: [
        {
          effectId,
          toolCallId: 'fc1',
          tool: 'create_order',
          arguments: '{}',
          idempotencyKey: asIdempotencyKey('k1'),
        },
      ],
    },
  );
}

describe('work left in a conversation (read off the folded state)', () => {
  it('has none in an empty conversation', () => {
    expect(unfinished(initialState(parseConversationId('c1')))).toBe(false);
  });

  it('has work while a message is unanswered, and none once the reply that covers it is delivered', () => {
    const replyId = 'rep_9' as ReplyId;
    let state = fold(initialState(parseConversationId('c1')), {
      type: 'message.received',
      messageId: 'm1' as MessageId,
      text: 'hi',
    });
    expect(unfinished(state)).toBe(true);
    state = fold(state, {
      type: 'reply.committed',
      attemptId: null,
      replyId,
      text: 'hello',
      covers: ['m1' as MessageId],
      callId: null,
      kind: 'fallback',
      needsHuman: true,
    });
    expect(unfinished(state)).toBe(true);
    state = fold(state, { type: 'reply.delivered', replyId, deliveryId: 'd1' });
    expect(unfinished(state)).toBe(false);
  });

  it('has work while a write may be in flight, past its time bound too, and none once a check says how it ended', () => {
    let state = withWrite();
    state = fold(state, { type: 'attempt.failed', attemptId, reason: 'test' });
    // Only the write is left: the message has no reply, so cover it with one that is delivered.
    state = fold(
      state,
      {
        type: 'reply.committed',
        attemptId: null,
        replyId: 'rep_1' as ReplyId,
        text: 'x',
        covers: ['m1' as MessageId],
        callId: null,
        kind: 'fallback',
        needsHuman: true,
      },
      { type: 'reply.delivered', replyId: 'rep_1' as ReplyId, deliveryId: 'd1' },
    );
    expect(unfinished(state)).toBe(true);
    state = fold(state, {
      type: 'effect.unknown',
      effectId,
      reason: 'slow',
      cause: 'timeout',
      reconciler: null,
    });
    expect(unfinished(state)).toBe(true);
    state = fold(state, {
      type: 'effect.unknown',
      effectId,
      reason: 'hung',
      cause: 'hang',
      reconciler: 'me',
      until: 20_000,
    });
    expect(unfinished(state)).toBe(true);
    state = fold(state, { type: 'effect.checked', effectId, note: 'no reconcile' });
    expect(unfinished(state)).toBe(false);
  });

  it('has work again when a write recorded as not done throws late (it may have written)', () => {
    let state = fold(
      withWrite(),
      { type: 'effect.settled', effectId, outcome: 'failed', output: '{}' },
      { type: 'attempt.failed', attemptId, reason: 'test' },
    );
    state = fold(
      state,
      {
        type: 'reply.committed',
        attemptId: null,
        replyId: 'rep_1' as ReplyId,
        text: 'x',
        covers: ['m1' as MessageId],
        callId: null,
        kind: 'fallback',
        needsHuman: true,
      },
      { type: 'reply.delivered', replyId: 'rep_1' as ReplyId, deliveryId: 'd1' },
    );
    expect(unfinished(state)).toBe(false);
    state = fold(state, {
      type: 'effect.unknown',
      effectId,
      reason: 'threw',
      cause: 'error',
      reconciler: 'me',
      until: 20_000,
      late: true,
    });
    expect(unfinished(state)).toBe(true);
  });
});

describe('the fold', () => {
  it('keeps the latest run of each key by the key the tool derived', () => {
    const state = withWrite();
    expect(state.keys.get(asIdempotencyKey('k1'))).toBe(effectId);
    expect(state.effects.get(effectId)).toMatchObject({ status: 'running', generation: 1, baseKey: 'k1' });
  });

  it('refuses a second answer to one tool call', () => {
    const state = withWrite();
    expect(() =>
      fold(state, {
        type: 'tool.refused',
        callId,
        refusals: [{ toolCallId: 'fc1', reason: 'rebase', output: '{}' }],
      }),
    ).toThrow(/answered twice/);
  });
});

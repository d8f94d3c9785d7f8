import type { ContextEntry, EventBody, GraftEvent } from '../../src/core/events.js';
import { EVENT_VERSION } from '../../src/core/events.js';
import type { FunctionCallItem, OutputItem } from '../../src/core/items.js';
import { replay } from '../../src/core/state.js';
import { parseConversationId } from '../../src/core/ids.js';

/**
 * The log of a long conversation for the dashboard's tests and benchmark: `turns` turns, each a
 * burst of two messages raced by graft as it does it (4 model calls a turn):
 *
 * - attempt A: a call asks for a write, which starts; the second message supersedes A;
 * - attempt B: its first call is told of A's write by a graft (running) and asks for it again;
 *   the write settles, so the gate refuses the call (rebase); the rebase call, told it is done,
 *   asks for another write, which runs; a last call writes the reply.
 *
 * Times start at `startMs` and advance like the demo's (hundreds of ms a step). `replay` accepts
 * the log (checked at the end).
 */
export function longConversationLog(conversationId: string, turns: number, startMs: number): GraftEvent[] {
  const events: GraftEvent[] = [];
  let at = startMs;
  const add = (body: EventBody, afterMs: number): number => {
    at += afterMs;
    const seq = events.length + 1;
    events.push({ ...body, v: EVENT_VERSION, seq, at });
    return seq;
  };
  const usage = (input: number, cached: number, output: number) => ({
    inputTokens: input,
    cachedInputTokens: cached,
    outputTokens: output,
    reasoningTokens: 0,
  });
  const user = (messageId: string, text: string): ContextEntry => ({
    item: { type: 'message', role: 'user', content: text },
    messageId: messageId as never,
  });
  const call = (id: string, name: string, args: unknown): FunctionCallItem & { id: string } => ({
    type: 'function_call',
    id: `fc_${id}`,
    call_id: id,
    name,
    arguments: JSON.stringify(args),
    status: 'completed',
  });
  const text = (id: string, value: string): OutputItem => ({
    type: 'message',
    id,
    role: 'assistant',
    status: 'completed',
    content: [{ type: 'output_text', text: value, annotations: [] }],
  });
  let head: string | null = null;
  for (let turn = 1; turn <= turns; turn += 1) {
    const [a, b] = [`t${turn}a`, `t${turn}b`];
    const items = [{ product: 'pizza', quantity: turn }];
    add({ type: 'message.received', messageId: a as never, text: `I want ${turn} pizzas.` }, 20_000);
    const attemptA = `att_${add({ type: 'attempt.started', attemptId: `att_${events.length + 1}` as never, turn, reason: 'message', owner: 'i1', leaseUntil: at + 15_000 }, 1)}`;
    const callA = `call_${events.length + 1}`;
    add(
      {
        type: 'model.requested',
        attemptId: attemptA as never,
        callId: callA as never,
        parent: head as never,
        entries: [user(a, `I want ${turn} pizzas.`)],
        reason: 'start',
        stateless: false,
        owner: 'i1',
      },
      2,
    );
    const writeA = `tc_${turn}_a`;
    const keyA = `create_order:t${turn}:a`;
    add(
      {
        type: 'model.responded',
        callId: callA as never,
        responseId: `resp_${turn}_a`,
        output: [call(writeA, 'create_order', { items })],
        usage: usage(600 + turn * 40, 0, 18),
        calls: [
          {
            toolCallId: writeA,
            name: 'create_order',
            arguments: JSON.stringify({ items }),
            kind: 'write',
            idempotencyKey: keyA as never,
          },
        ],
      },
      780,
    );
    const effectA = `eff_${events.length + 1}_1`;
    add(
      {
        type: 'effect.started',
        attemptId: attemptA as never,
        callId: callA as never,
        owner: 'i1',
        leaseUntil: at + 15_000,
        effects: [
          {
            effectId: effectA as never,
            toolCallId: writeA,
            tool: 'create_order',
            arguments: JSON.stringify({ items }),
            idempotencyKey: keyA as never,
          },
        ],
      },
      5,
    );
    add({ type: 'message.received', messageId: b as never, text: 'Add a cola.' }, 120);
    add({ type: 'attempt.superseded', attemptId: attemptA as never, byMessageId: b as never }, 1);
    const attemptB = `att_${events.length + 1}`;
    add(
      {
        type: 'attempt.started',
        attemptId: attemptB as never,
        turn,
        reason: 'message',
        owner: 'i1',
        leaseUntil: at + 15_000,
      },
      1,
    );
    const graft = (status: 'running' | 'done', n: number): ContextEntry[] => [
      {
        item: {
          type: 'function_call',
          call_id: `graft_${effectA}_${n}`,
          name: 'create_order',
          arguments: JSON.stringify({ items }),
        },
      },
      {
        item: {
          type: 'function_call_output',
          call_id: `graft_${effectA}_${n}`,
          output: JSON.stringify({ status }),
        },
        effect: { effectId: effectA as never, status },
      },
    ];
    const callB1 = `call_${events.length + 1}`;
    add(
      {
        type: 'model.requested',
        attemptId: attemptB as never,
        callId: callB1 as never,
        parent: head as never,
        entries: [user(a, `I want ${turn} pizzas.`), user(b, 'Add a cola.'), ...graft('running', 1)],
        reason: 'start',
        stateless: false,
        owner: 'i1',
      },
      2,
    );
    add(
      {
        type: 'effect.settled',
        effectId: effectA as never,
        outcome: 'done',
        output: JSON.stringify({ order_id: `ord_${turn}` }),
      },
      200,
    );
    const writeB1 = `tc_${turn}_b1`;
    add(
      {
        type: 'model.responded',
        callId: callB1 as never,
        responseId: `resp_${turn}_b1`,
        output: [call(writeB1, 'create_order', { items })],
        usage: usage(700 + turn * 40, 600, 20),
        calls: [
          {
            toolCallId: writeB1,
            name: 'create_order',
            arguments: JSON.stringify({ items }),
            kind: 'write',
            idempotencyKey: `create_order:t${turn}:b` as never,
          },
        ],
      },
      450,
    );
    add(
      {
        type: 'tool.refused',
        callId: callB1 as never,
        refusals: [
          { toolCallId: writeB1, reason: 'rebase', output: JSON.stringify({ status: 'not_executed' }) },
        ],
      },
      1,
    );
    const callB2 = `call_${events.length + 1}`;
    add(
      {
        type: 'model.requested',
        attemptId: attemptB as never,
        callId: callB2 as never,
        parent: callB1 as never,
        entries: [
          {
            item: {
              type: 'function_call_output',
              call_id: writeB1,
              output: JSON.stringify({ status: 'not_executed' }),
            },
            answers: writeB1,
          },
          ...graft('done', 2),
        ],
        reason: 'rebase',
        stateless: false,
        owner: 'i1',
      },
      1,
    );
    const writeB2 = `tc_${turn}_b2`;
    const change = { order_id: `ord_${turn}`, items: [...items, { product: 'cola', quantity: 1 }] };
    const keyB2 = `update_order:t${turn}:b`;
    add(
      {
        type: 'model.responded',
        callId: callB2 as never,
        responseId: `resp_${turn}_b2`,
        output: [call(writeB2, 'update_order', change)],
        usage: usage(860 + turn * 40, 700, 30),
        calls: [
          {
            toolCallId: writeB2,
            name: 'update_order',
            arguments: JSON.stringify(change),
            kind: 'write',
            idempotencyKey: keyB2 as never,
          },
        ],
      },
      600,
    );
    const effectB = `eff_${events.length + 1}_1`;
    add(
      {
        type: 'effect.started',
        attemptId: attemptB as never,
        callId: callB2 as never,
        owner: 'i1',
        leaseUntil: at + 15_000,
        effects: [
          {
            effectId: effectB as never,
            toolCallId: writeB2,
            tool: 'update_order',
            arguments: JSON.stringify(change),
            idempotencyKey: keyB2 as never,
          },
        ],
      },
      2,
    );
    add(
      { type: 'effect.settled', effectId: effectB as never, outcome: 'done', output: JSON.stringify(change) },
      300,
    );
    const callB3 = `call_${events.length + 1}`;
    add(
      {
        type: 'model.requested',
        attemptId: attemptB as never,
        callId: callB3 as never,
        parent: callB2 as never,
        entries: [
          {
            item: { type: 'function_call_output', call_id: writeB2, output: JSON.stringify(change) },
            effect: { effectId: effectB as never, status: 'done' },
            answers: writeB2,
          },
        ],
        reason: 'continue',
        stateless: false,
        owner: 'i1',
      },
      1,
    );
    const reply = `Your order ord_${turn} is confirmed: ${turn} pizzas and 1 cola.`;
    add(
      {
        type: 'model.responded',
        callId: callB3 as never,
        responseId: `resp_${turn}_b3`,
        output: [text(`msg_${turn}`, reply)],
        usage: usage(920 + turn * 40, 860, 24),
        calls: [],
      },
      580,
    );
    const replyId = `rep_${events.length + 1}`;
    add(
      {
        type: 'reply.committed',
        attemptId: attemptB as never,
        replyId: replyId as never,
        text: reply,
        covers: [a as never, b as never],
        callId: callB3 as never,
        kind: 'reply',
        needsHuman: false,
      },
      1,
    );
    add(
      { type: 'reply.delivered', replyId: replyId as never, deliveryId: `demo:${conversationId}:${replyId}` },
      30,
    );
    head = callB3;
  }
  replay(parseConversationId(conversationId), events);
  return events;
}

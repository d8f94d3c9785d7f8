import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import type { BrainRequest } from '../src/core/brain.js';
import { OperatorError } from '../src/core/operator.js';
import { callTool, createScriptedBrain, say } from '../src/model/scripted-brain.js';
import { defineTool } from '../src/tools/define-tool.js';
import type { VirtualClock } from '../src/sim/virtual-clock.js';
import { harness } from './harness.js';

/** The function_call_output texts of a request's context. */
const outputsOf = (r: BrainRequest) =>
  r.input.flatMap((i) => (i.type === 'function_call_output' ? [i.output] : []));
const textsOf = (r: BrainRequest) =>
  r.input.flatMap((i) => (i.type === 'message' && typeof i.content === 'string' ? [i.content] : []));

/** A `cancel` write that needs approval and an `add` write that does not; both record their runs. */
function tools(runs: string[], approvalTimeoutMs = 60_000, latencyMs = 100) {
  return (clock: VirtualClock) => [
    defineTool({
      name: 'cancel',
      description: 'cancel the order',
      parameters: z.object({}),
      effect: 'write',
      approval: true,
      approvalTimeoutMs,
      async run() {
        runs.push('cancel');
        await clock.sleep(latencyMs);
        return { cancelled: true };
      },
    }),
    defineTool({
      name: 'add',
      description: 'add an item',
      parameters: z.object({ item: z.string() }),
      effect: 'write',
      async run({ item }) {
        runs.push(`add ${item}`);
        await clock.sleep(latencyMs);
        return { added: item };
      },
    }),
  ];
}

describe('approvals', () => {
  it('records a request, lets the reply go out, runs the write once approved and follows up', async () => {
    const runs: string[] = [];
    const brain = createScriptedBrain([
      [callTool('cancel', {})],
      (r) => {
        expect(outputsOf(r).at(-1)).toContain('awaiting_approval');
        return [say('A colleague will confirm the cancellation.')];
      },
      (r) => {
        expect(outputsOf(r).join()).toContain('"cancelled":true');
        return [say('Your order is cancelled.')];
      },
    ]);
    const h = harness({ brain, tools: tools(runs) });
    h.sendAt(0, 'm1', 'Cancel my order.');
    await h.clock.run(30_000);
    expect(h.delivered.map((d) => d.text)).toEqual(['A colleague will confirm the cancellation.']);
    expect(runs).toEqual([]);
    const pending = await h.graft.approvals();
    expect(pending).toEqual([
      expect.objectContaining({
        conversationId: 'c1',
        tool: 'cancel',
        arguments: '{}',
        id: expect.any(String),
      }),
    ]);
    await h.graft.decide(pending[0]!.id, { decision: 'approve', operator: 'ana' });
    await h.clock.run();
    expect(runs).toEqual(['cancel']);
    expect(h.delivered.map((d) => d.text)).toEqual([
      'A colleague will confirm the cancellation.',
      'Your order is cancelled.',
    ]);
    expect(h.delivered[1]!.kind).toBe('follow-up');
    expect(await h.graft.approvals()).toEqual([]);
    // Deciding again is refused, saying why.
    await expect(h.graft.decide(pending[0]!.id, { decision: 'reject' })).rejects.toThrow(
      /already approved by ana/,
    );
    expect(h.errors).toEqual([]);
  });

  it('grafts a rejection with the note, and the key may be asked for again', async () => {
    const runs: string[] = [];
    const brain = createScriptedBrain([
      [callTool('cancel', {})],
      [say('A colleague will confirm.')],
      (r) => {
        expect(outputsOf(r).join()).toContain('rejected this request');
        expect(outputsOf(r).join()).toContain('already shipped');
        return [say('Sorry, the cancellation was declined: the order has already shipped.')];
      },
    ]);
    const h = harness({ brain, tools: tools(runs) });
    h.sendAt(0, 'm1', 'Cancel my order.');
    await h.clock.run(30_000);
    const [request] = await h.graft.approvals();
    await h.graft.decide(request!.id, { decision: 'reject', operator: 'ana', note: 'already shipped' });
    await h.clock.run();
    expect(runs).toEqual([]);
    expect(h.delivered.map((d) => d.kind)).toEqual(['reply', 'follow-up']);
    const state = await h.graft.conversation('c1');
    expect([...state.effects.values()].map((e) => [e.status, e.approval?.decision])).toEqual([
      ['failed', 'rejected'],
    ]);
  });

  it('expires a request nobody decides, and tells the customer', async () => {
    const runs: string[] = [];
    const brain = createScriptedBrain([
      [callTool('cancel', {})],
      [say('A colleague will confirm.')],
      (r) => {
        expect(outputsOf(r).join()).toContain('no member of staff decided');
        return [say('Sorry, nobody could confirm the cancellation in time.')];
      },
    ]);
    const h = harness({ brain, tools: tools(runs, 5_000) });
    h.sendAt(0, 'm1', 'Cancel my order.');
    await h.clock.run();
    expect(runs).toEqual([]);
    expect(h.delivered.map((d) => d.kind)).toEqual(['reply', 'follow-up']);
    expect(await h.graft.approvals()).toEqual([]);
  });

  it('refuses other writes while a request waits, and the decision races a new message safely', async () => {
    const runs: string[] = [];
    const brain = createScriptedBrain([
      [callTool('cancel', {})],
      [say('A colleague will confirm.')],
      // The customer writes again while the request waits: the new attempt sees it awaiting.
      (r) => {
        expect(outputsOf(r).join()).toContain('awaiting_approval');
        return [callTool('add', { item: 'cola' })];
      },
      (r) => {
        expect(outputsOf(r).at(-1)).toContain('awaits a member of staff');
        return [say('I can add the cola once the cancellation is decided.')];
      },
      [say('The cancellation is done.')],
    ]);
    const h = harness({ brain, tools: tools(runs) });
    h.sendAt(0, 'm1', 'Cancel my order.');
    h.sendAt(5_000, 'm2', 'Also add a cola.');
    await h.clock.run(30_000);
    expect(runs).toEqual([]);
    const [request] = await h.graft.approvals();
    await h.graft.decide(request!.id, { decision: 'approve', operator: 'ana' });
    await h.clock.run();
    expect(runs).toEqual(['cancel']);
    expect(h.delivered.map((d) => d.text)).toEqual([
      'A colleague will confirm.',
      'I can add the cola once the cancellation is decided.',
      'The cancellation is done.',
    ]);
  });

  it('rebases an answer drafted while the approval landed, so the customer hears the decision', async () => {
    const runs: string[] = [];
    const brain = createScriptedBrain([
      [callTool('cancel', {})],
      [say('A colleague will confirm.')],
      // m2's first call was made while the request waited; the approval lands while it runs.
      (r) => {
        expect(outputsOf(r).join()).toContain('awaiting_approval');
        return [say('It still waits for a colleague.')];
      },
      // The draft is not sent: the cancellation ran meanwhile, and the model answers again.
      (r) => {
        expect(outputsOf(r).join()).toContain('"cancelled":true');
        return [say('Your order is cancelled, and yes, you will be refunded.')];
      },
    ]);
    const h = harness({ brain, tools: tools(runs) });
    h.sendAt(0, 'm1', 'Cancel my order.');
    h.sendAt(5_000, 'm2', 'Will I be refunded?');
    await h.clock.run(5_100);
    const [request] = await h.graft.approvals();
    await h.graft.decide(request!.id, { decision: 'approve', operator: 'ana' });
    await h.clock.run(30_000);
    expect(runs).toEqual(['cancel']);
    expect(h.delivered.map((d) => d.text)).toEqual([
      'A colleague will confirm.',
      'Your order is cancelled, and yes, you will be refunded.',
    ]);
    expect(brain.remaining()).toBe(0);
  });

  it('withdraws the request of a superseded attempt, says so to the next attempt, and refuses a late decision', async () => {
    const runs: string[] = [];
    const brain = createScriptedBrain([
      [callTool('cancel', {})],
      // Its second call is in flight when m2 arrives (the request was made at 700).
      [say('never sent')],
      (r) => {
        expect(outputsOf(r).join()).toContain('withdrawn');
        expect(textsOf(r)).toEqual(expect.arrayContaining(['Cancel my order.', 'Actually, keep it.']));
        return [say('Fine, your order stays.')];
      },
    ]);
    const h = harness({ brain, tools: tools(runs) });
    h.sendAt(0, 'm1', 'Cancel my order.');
    h.sendAt(1_000, 'm2', 'Actually, keep it.');
    await h.clock.run();
    expect(h.delivered.map((d) => d.text)).toEqual(['Fine, your order stays.']);
    expect(await h.graft.approvals()).toEqual([]);
    const state = await h.graft.conversation('c1');
    const effect = [...state.effects.values()][0]!;
    expect(effect.approval?.decision).toBe('withdrawn');
    const error = await h.graft
      .decide(`c1:${effect.effectId}`, { decision: 'approve' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperatorError);
    expect(error).toMatchObject({ code: 'request_not_pending', message: expect.stringMatching(/withdrawn/) });
    await expect(h.graft.decide('c1:eff_99_1', { decision: 'approve' })).rejects.toMatchObject({
      code: 'request_not_found',
    });
    await expect(h.graft.decide('nonsense', { decision: 'approve' })).rejects.toMatchObject({
      code: 'request_not_found',
    });
    expect(runs).toEqual([]);
  });
});

describe('takeover', () => {
  it('answers nothing while taken over, delivers the operator, and the bot knows what they said', async () => {
    const runs: string[] = [];
    const brain = createScriptedBrain([
      // m1's attempt is superseded by the takeover while its call runs.
      [callTool('add', { item: 'cola' })],
      (r) => {
        const texts = textsOf(r);
        expect(texts).toEqual(
          expect.arrayContaining(['Hello?', 'Is anyone there?', 'We added a free dessert to your order.']),
        );
        expect(texts.join()).toContain('member of staff (ana)');
        return [say('As my colleague said, the dessert is free. Anything else?')];
      },
    ]);
    const h = harness({ brain, tools: tools(runs) });
    h.sendAt(0, 'm1', 'Hello?');
    h.clock.setTimer(300, () => void h.graft.takeOver('c1', 'ana'));
    h.sendAt(2_000, 'm2', 'Is anyone there?');
    await h.clock.run();
    expect(h.delivered).toEqual([]);
    expect(runs).toEqual([]);
    await expect(h.graft.takeOver('c1', 'bob')).rejects.toMatchObject({ code: 'already_taken_over' });
    const { replyId } = await h.graft.operatorReply('c1', 'We added a free dessert to your order.');
    await h.clock.run();
    expect(h.delivered.map((d) => [d.kind, d.text, d.replyId])).toEqual([
      ['operator', 'We added a free dessert to your order.', replyId],
    ]);
    expect(h.delivered[0]!.covers).toEqual(['m1', 'm2']);
    await h.graft.release('c1');
    h.sendAt(h.clock.now() + 1_000, 'm3', 'Great, thanks.');
    await h.clock.run();
    expect(h.delivered.at(-1)!.text).toBe('As my colleague said, the dessert is free. Anything else?');
    await expect(h.graft.release('c1')).rejects.toMatchObject({ code: 'not_taken_over' });
    await expect(h.graft.operatorReply('c1', 'hi')).rejects.toMatchObject({ code: 'not_taken_over' });
  });

  it('lets a write that runs at the takeover settle and records it', async () => {
    const runs: string[] = [];
    const brain = createScriptedBrain([[callTool('add', { item: 'cola' })]]);
    const h = harness({ brain, tools: tools(runs, 60_000, 5_000) });
    h.sendAt(0, 'm1', 'Add a cola.');
    // The write starts at 700 and runs for 5 s; the takeover lands meanwhile.
    h.clock.setTimer(2_000, () => void h.graft.takeOver('c1', 'ana'));
    await h.clock.run();
    expect(runs).toEqual(['add cola']);
    const state = await h.graft.conversation('c1');
    expect([...state.effects.values()].map((e) => e.status)).toEqual(['done']);
    expect(h.delivered).toEqual([]);
    expect(h.types().filter((t) => t === 'model.requested')).toHaveLength(1);
  });
});

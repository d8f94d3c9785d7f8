import { describe, expect, it } from 'vitest';
import type { Plan } from './commands.js';
import { coreConfig } from './config.js';
import { knowledgeOf } from './context.js';
import type { EventBody, GraftEvent } from './events.js';
import { EVENT_VERSION } from './events.js';
import type { CallId, MessageId } from './ids.js';
import { asIdempotencyKey, parseConversationId } from './ids.js';
import { chooseFrontier, plan, retryAt, writeGate } from './plan.js';
import { buildRequest } from './request.js';
import type { ConversationState } from './state.js';
import { evolve, initialState, unfinished } from './state.js';
import { decideRequest, operatorReply, release, takeOver } from './operator.js';

const usage = { inputTokens: 1, cachedInputTokens: 0, outputTokens: 1, reasoningTokens: 0 };

/** Drives the pure core by hand: facts in, decisions appended as the runtime would. */
function core(config = coreConfig({ instanceId: 'me' })) {
  let state: ConversationState = initialState(parseConversationId('c1'));
  let now = 0;
  const log: GraftEvent[] = [];
  const append = (bodies: EventBody[]) => {
    for (const body of bodies) {
      const event = { ...body, v: EVENT_VERSION, seq: state.seq + 1, at: now } as GraftEvent;
      state = evolve(state, event);
      log.push(event);
    }
  };
  /** Appends decisions until the core asks only for I/O; returns that I/O. */
  const settle = (as = config): Io => {
    for (;;) {
      const next = plan(state, as, now);
      if (next.kind === 'io') return next;
      append(next.events);
    }
  };
  const lastCall = () => [...state.calls.values()].at(-1)!;
  return {
    get state() {
      return state;
    },
    log,
    append,
    config,
    at(ms: number) {
      now = ms;
      return this;
    },
    message(id: string, text = id) {
      append([{ type: 'message.received', messageId: id as MessageId, text }]);
      return settle();
    },
    respond(
      callId: CallId,
      output: {
        text?: string;
        calls?: { id: string; name: string; kind: 'read' | 'write'; approvalMs?: number }[];
      },
    ) {
      const calls = output.calls ?? [];
      append([
        {
          type: 'model.responded',
          callId,
          responseId: `resp_${callId}`,
          usage,
          output: [
            ...(output.text
              ? [
                  {
                    type: 'message' as const,
                    id: 'm',
                    role: 'assistant' as const,
                    status: 'completed' as const,
                    content: [{ type: 'output_text' as const, text: output.text, annotations: [] }],
                  },
                ]
              : []),
            ...calls.map((c) => ({
              type: 'function_call' as const,
              id: `fc_${c.id}`,
              call_id: c.id,
              name: c.name,
              arguments: '{}',
            })),
          ],
          calls: calls.map((c) => ({
            toolCallId: c.id,
            name: c.name,
            arguments: '{}',
            kind: c.kind,
            ...(c.kind === 'write' ? { idempotencyKey: asIdempotencyKey(`${c.name}:${c.id}`) } : {}),
            ...(c.approvalMs === undefined ? {} : { approval: { timeoutMs: c.approvalMs } }),
          })),
        },
      ]);
      return settle();
    },
    /** Answers a read call of a response. */
    read(callId: CallId, toolCallId: string, output = '{}') {
      append([{ type: 'tool.read', callId, toolCallId, ok: true, output }]);
      return settle();
    },
    settleEffect(effectId: string, output = '{"ok":true}') {
      append([{ type: 'effect.settled', effectId: effectId as never, outcome: 'done', output }]);
      return settle();
    },
    tick: () => settle(),
    /** Plans as another instance sharing the log. */
    tickAs: (instanceId: string) => settle(coreConfig({ ...config, instanceId })),
    lastCall,
  };
}

type Io = Extract<Plan, { kind: 'io' }>;

const types = (io: Io) => io.commands.map((c) => c.type);

describe('the pure core', () => {
  it('starts a model call holding the message as soon as a message arrives', () => {
    const c = core();
    const io = c.message('m1');
    expect(types(io)).toEqual(['call-model']);
    expect(io.wakeAt).not.toBeNull();
    expect(c.lastCall().entries.map((e) => e.messageId)).toEqual(['m1']);
    expect(c.log.map((e) => e.type)).toEqual(['message.received', 'attempt.started', 'model.requested']);
  });

  it('supersedes the live attempt and aborts its call when a message arrives mid-call', () => {
    const c = core();
    c.message('m1');
    const first = c.lastCall().callId;
    const io = c.at(300).message('m2');
    expect(io.commands).toContainEqual({ type: 'abort-model', callId: first });
    expect(c.lastCall().entries.map((e) => e.messageId)).toEqual(['m1', 'm2']);
    expect(c.lastCall().parent).toBeNull();
  });

  it('forks from the response whose write settled, answering its call (the seed case)', () => {
    const c = core();
    c.message('m1');
    const a1 = c.lastCall().callId;
    c.at(700).respond(a1, { calls: [{ id: 'fc1', name: 'create_order', kind: 'write' }] });
    const effect = [...c.state.effects.keys()][0]!;
    c.at(900).settleEffect(effect, '{"order_id":"ord_1"}');
    c.at(1_000).message('m2');
    const b = c.lastCall();
    expect(b.parent).toBe(a1);
    expect(b.entries.map((e) => e.item.type)).toEqual(['function_call_output', 'message']);
    expect(b.entries[0]!.effect).toEqual({ effectId: effect, status: 'done' });
  });

  it('grafts a write that is still running into the next attempt from the head', () => {
    const c = core();
    c.message('m1');
    c.at(700).respond(c.lastCall().callId, { calls: [{ id: 'fc1', name: 'create_order', kind: 'write' }] });
    c.at(800).message('m2');
    const b = c.lastCall();
    expect(b.parent).toBeNull();
    const graft = b.entries.find((e) => e.item.type === 'function_call');
    expect(graft?.item).toMatchObject({
      type: 'function_call',
      name: 'create_order',
      call_id: expect.stringMatching(/^graft_eff_\d+_1_1$/),
    });
    expect(b.entries.find((e) => e.effect)?.effect?.status).toBe('running');
    expect(b.entries.some((e) => e.item.type === 'message' && e.item.role === 'developer')).toBe(true);
  });

  it('restarts a first call whose context was told a write is running once the write settles', () => {
    const c = core();
    c.message('m1');
    const a1 = c.lastCall().callId;
    c.at(700).respond(a1, { calls: [{ id: 'fc1', name: 'create_order', kind: 'write' }] });
    c.at(800).message('m2');
    const stale = c.lastCall().callId;
    const io = c.at(900).settleEffect([...c.state.effects.keys()][0]!);
    expect(io.commands).toContainEqual({ type: 'abort-model', callId: stale });
    expect(c.lastCall()).toMatchObject({ reason: 'restart', parent: a1 });
  });

  it('restarts a first call from the superseded response whose read answered meanwhile', () => {
    const c = core();
    c.message('m1');
    const a1 = c.lastCall().callId;
    c.at(700).respond(a1, { calls: [{ id: 'fc1', name: 'get_order', kind: 'read' }] });
    // The read runs when m2 arrives: A's response is no frontier yet, B starts from the head.
    c.at(800).message('m2');
    const first = c.lastCall();
    expect(first.parent).toBeNull();
    const io = c.at(900).read(a1, 'fc1', '{"status":"confirmed"}');
    expect(io.commands).toContainEqual({ type: 'abort-model', callId: first.callId });
    const restarted = c.lastCall();
    expect(restarted).toMatchObject({ reason: 'restart', parent: a1, attemptId: first.attemptId });
    expect(restarted.entries.map((e) => e.item.type)).toEqual(['function_call_output', 'message']);
    expect(restarted.entries.map((e) => e.messageId).filter(Boolean)).toEqual(['m2']);
    // Restarted once: nothing moved since.
    c.at(1_000).tick();
    expect(c.lastCall().callId).toBe(restarted.callId);
  });

  it('does not restart a first call once it has a response, nor under the rebase policy', () => {
    for (const policy of ['restart', 'rebase'] as const) {
      const c = core(coreConfig({ instanceId: 'me', onSettleDuringFirstCall: policy }));
      c.message('m1');
      const a1 = c.lastCall().callId;
      c.at(700).respond(a1, { calls: [{ id: 'fc1', name: 'get_order', kind: 'read' }] });
      c.at(800).message('m2');
      const b1 = c.lastCall().callId;
      if (policy === 'restart')
        c.at(850).respond(b1, { calls: [{ id: 'fc2', name: 'get_order', kind: 'read' }] });
      c.at(900).read(a1, 'fc1');
      expect(c.log.some((e) => e.type === 'model.requested' && e.reason === 'restart')).toBe(false);
    }
  });

  it('holds the writes of a response while another write runs, then rebases them', () => {
    const c = core(coreConfig({ instanceId: 'me', onSettleDuringFirstCall: 'rebase' }));
    c.message('m1');
    c.at(700).respond(c.lastCall().callId, { calls: [{ id: 'fc1', name: 'create_order', kind: 'write' }] });
    c.at(800).message('m2');
    c.at(1_500).respond(c.lastCall().callId, { calls: [{ id: 'fc2', name: 'update_order', kind: 'write' }] });
    expect(c.state.effects.size).toBe(1);
    expect(c.log.some((e) => e.type === 'tool.refused')).toBe(false);
    c.at(5_000).settleEffect([...c.state.effects.keys()][0]!);
    expect(c.log.some((e) => e.type === 'tool.refused' && e.refusals[0]!.reason === 'rebase')).toBe(true);
    expect(c.lastCall().reason).toBe('rebase');
    expect(c.state.effects.size).toBe(1);
  });

  it('waits for a running write at the reply gate up to its bound, then commits', () => {
    const c = core(
      coreConfig({
        instanceId: 'me',
        onSettleDuringFirstCall: 'rebase',
        limits: { replyWaitMs: 1_000 } as never,
      }),
    );
    c.message('m1');
    c.at(700).respond(c.lastCall().callId, { calls: [{ id: 'fc1', name: 'create_order', kind: 'write' }] });
    c.at(800).message('m2');
    const io = c.at(1_500).respond(c.lastCall().callId, { text: 'Placing your order.' });
    expect(io.wakeAt).toBe(2_500);
    expect(c.state.replies).toHaveLength(0);
    c.at(2_500).tick();
    expect(c.state.replies.map((r) => r.covers)).toEqual([['m1', 'm2']]);
  });

  it('records a write past the tool-time bound as unknown', () => {
    const c = core(coreConfig({ instanceId: 'me', limits: { toolTimeoutMs: 5_000 } as never }));
    c.message('m1');
    c.at(700).respond(c.lastCall().callId, { calls: [{ id: 'fc1', name: 'create_order', kind: 'write' }] });
    c.at(5_700).tick();
    expect([...c.state.effects.values()][0]!.status).toBe('unknown');
  });

  it('builds chain requests from the delta and stateless requests from the whole transcript', () => {
    const chain = core();
    chain.message('m1');
    chain
      .at(700)
      .respond(chain.lastCall().callId, { calls: [{ id: 'fc1', name: 'get_order', kind: 'read' }] });
    chain.log.length = 0;
    const stateless = core(coreConfig({ instanceId: 'me', mode: 'stateless', reasoning: true }));
    stateless.message('m1');
    stateless
      .at(700)
      .respond(stateless.lastCall().callId, { calls: [{ id: 'fc1', name: 'get_order', kind: 'read' }] });
    for (const c of [chain, stateless]) {
      const call = c.lastCall();
      c.state.calls.get(call.callId)!.toolCalls[0]!.outcome = { kind: 'read', ok: true, output: '{}' };
      c.tick();
    }
    const a = buildRequest(chain.state, chain.config, chain.lastCall());
    expect(a).toMatchObject({ previousResponseId: expect.stringMatching(/^resp_/), store: true });
    expect(a.input.map((i) => i.type)).toEqual(['function_call_output']);
    const b = buildRequest(stateless.state, stateless.config, stateless.lastCall());
    expect(b).toMatchObject({
      previousResponseId: null,
      store: false,
      include: ['reasoning.encrypted_content'],
    });
    expect(b.input.map((i) => i.type)).toEqual(['message', 'function_call', 'function_call_output']);
    expect(b.input[1]).not.toHaveProperty('status');
  });

  it('knows which effects a context holds, and at which status', () => {
    const c = core();
    c.message('m1');
    c.at(700).respond(c.lastCall().callId, { calls: [{ id: 'fc1', name: 'create_order', kind: 'write' }] });
    c.at(800).message('m2');
    const effect = [...c.state.effects.keys()][0]!;
    expect(knowledgeOf(c.state, c.lastCall().callId).effects.get(effect)).toBe('running');
  });

  it('refuses an event that does not follow the last seq', () => {
    const state = initialState(parseConversationId('c1'));
    const event = {
      type: 'message.received',
      messageId: 'm' as MessageId,
      text: 'x',
      v: EVENT_VERSION,
      seq: 2,
      at: 0,
    } as GraftEvent;
    expect(() => evolve(state, event)).toThrow(/does not follow/);
  });

  it('renews the lease on its live attempt before it runs out', () => {
    const c = core(coreConfig({ instanceId: 'me', limits: { leaseMs: 10_000 } as never }));
    c.message('m1');
    const io = c.at(4_000).tick();
    expect(io.wakeAt).toBe(5_000);
    c.at(5_000).tick();
    expect(c.log.at(-1)).toMatchObject({ type: 'lease.renewed', owner: 'me', until: 15_000 });
  });

  it('lets another instance claim a live attempt whose lease expired, and call the model again', () => {
    const c = core(coreConfig({ instanceId: 'me', limits: { leaseMs: 10_000 } as never }));
    c.message('m1');
    const lost = c.lastCall().callId;
    expect(types(c.at(9_999).tickAs('other'))).not.toContain('call-model');
    const io = c.at(10_000).tickAs('other');
    expect(c.log.some((e) => e.type === 'lease.claimed' && e.owner === 'other')).toBe(true);
    expect(c.state.calls.get(lost)!.failure?.kind).toBe('takeover');
    expect(c.lastCall()).toMatchObject({ owner: 'other', reason: 'retry' });
    expect(io.commands).toContainEqual(
      expect.objectContaining({ type: 'call-model', callId: c.lastCall().callId }),
    );
  });

  it("records a lost owner's running write as unknown, and reconciles it", () => {
    const c = core(coreConfig({ instanceId: 'me', limits: { leaseMs: 10_000 } as never }));
    c.message('m1');
    c.at(700).respond(c.lastCall().callId, { calls: [{ id: 'fc1', name: 'create_order', kind: 'write' }] });
    const io = c.at(11_000).tickAs('other');
    const effect = [...c.state.effects.values()][0]!;
    expect(effect).toMatchObject({ status: 'unknown', checkBy: 'other' });
    expect(io.commands).toContainEqual(
      expect.objectContaining({ type: 'reconcile', effectId: effect.effectId, tool: 'create_order' }),
    );
    // The original owner never reconciles what another instance took over.
    expect(types(c.tick())).not.toContain('reconcile');
  });

  it("runs the reads of a lost owner's answered call once it claims the attempt", () => {
    const c = core(coreConfig({ instanceId: 'me', limits: { leaseMs: 10_000 } as never }));
    c.message('m1');
    c.at(700).respond(c.lastCall().callId, { calls: [{ id: 'fc1', name: 'get_order', kind: 'read' }] });
    const io = c.at(11_000).tickAs('other');
    expect(c.log.some((e) => e.type === 'lease.claimed' && e.owner === 'other')).toBe(true);
    expect(io.commands).toContainEqual(expect.objectContaining({ type: 'run-read', tool: 'get_order' }));
    // The lost owner no longer drives the attempt, so it does not run them again.
    expect(types(c.tick())).not.toContain('run-read');
  });

  it('hands the check of a lost write to another instance when its reconciler is lost too', () => {
    const c = core(coreConfig({ instanceId: 'me', limits: { leaseMs: 10_000 } as never }));
    c.message('m1');
    c.at(700).respond(c.lastCall().callId, { calls: [{ id: 'fc1', name: 'create_order', kind: 'write' }] });
    c.at(11_000).tickAs('other');
    const effect = [...c.state.effects.values()][0]!;
    expect(effect).toMatchObject({ status: 'unknown', checkBy: 'other', leaseUntil: 21_000 });
    // The reconciler renews its lease while it checks; nobody else may check meanwhile.
    c.at(16_000).tickAs('other');
    expect(effect.leaseUntil).toBe(26_000);
    expect(types(c.at(25_999).tickAs('third'))).not.toContain('reconcile');
    // It died before its check was recorded: the next instance takes the check over.
    const io = c.at(26_000).tickAs('third');
    expect(effect).toMatchObject({ status: 'unknown', checkBy: 'third', owner: 'third' });
    expect(io.commands).toContainEqual(
      expect.objectContaining({ type: 'reconcile', effectId: effect.effectId }),
    );
    c.append([{ type: 'effect.checked', effectId: effect.effectId, note: 'no reconcile' }]);
    expect(types(c.at(60_000).tickAs('fourth'))).not.toContain('reconcile');
    expect(c.log.filter((e) => e.type === 'effect.unknown')).toHaveLength(2);
  });
});

const write = (id: string, name = 'create_order', key = `${name}:${id}`) => ({
  id,
  name,
  key,
  kind: 'write' as const,
});
const effectIds = (c: ReturnType<typeof core>) => [...c.state.effects.keys()];

describe('the frontier', () => {
  it('forks from the head while no response of the turn has all its calls answered', () => {
    const c = core();
    c.message('m1');
    c.at(700).respond(c.lastCall().callId, { calls: [write('fc1')] });
    expect(chooseFrontier(c.state)).toBeNull();
  });

  it('forks from the response holding the most settled effects, not from a later one that holds fewer', () => {
    const c = core();
    c.message('m1');
    const a1 = c.lastCall().callId;
    c.at(700).respond(a1, { calls: [write('fc1')] });
    c.at(800).message('m2');
    const b1 = c.lastCall().callId;
    // B's first response holds the write as running; then the write settles: A's response holds it as done.
    c.at(1_000).respond(b1, { calls: [{ id: 'fc2', name: 'get_order', kind: 'read' }] });
    c.at(1_100).read(b1, 'fc2');
    c.at(1_200).settleEffect(effectIds(c)[0]!);
    expect(chooseFrontier(c.state)).toBe(a1);
  });

  it('forks from the latest of two responses that hold as many settled effects', () => {
    const c = core();
    c.message('m1');
    const a1 = c.lastCall().callId;
    c.at(700).respond(a1, { calls: [{ id: 'fc1', name: 'get_order', kind: 'read' }] });
    c.at(800).read(a1, 'fc1');
    expect(chooseFrontier(c.state)).toBe(a1);
  });
});

describe('the write gate, step by step', () => {
  /** A response of the live attempt asking for `calls`, before the gate has decided it. */
  function atGate(c: ReturnType<typeof core>, callId: CallId, calls: ReturnType<typeof write>[]) {
    c.append([
      {
        type: 'model.responded',
        callId,
        responseId: `resp_${callId}`,
        usage,
        output: calls.map((x) => ({
          type: 'function_call' as const,
          id: `fc_${x.id}`,
          call_id: x.id,
          name: x.name,
          arguments: '{}',
        })),
        calls: calls.map((x) => ({
          toolCallId: x.id,
          name: x.name,
          arguments: '{}',
          kind: x.kind,
          idempotencyKey: asIdempotencyKey(x.key),
        })),
      },
    ]);
    const call = c.state.calls.get(callId)!;
    const attempt = c.state.attempts.get(call.attemptId)!;
    return writeGate(c.state, c.config, attempt, call, call.toolCalls);
  }

  it('step 1: refuses every write of a superseded attempt', () => {
    const c = core();
    c.message('m1');
    const a1 = c.lastCall().callId;
    c.at(300).message('m2');
    const decision = atGate(c, a1, [write('fc1')]);
    expect(decision).toMatchObject({ kind: 'refuse', refusals: [{ toolCallId: 'fc1', reason: 'rebase' }] });
    // Through plan, nothing at all is appended for it: it is dead.
    expect(c.tick().commands.some((x) => x.type === 'run-write')).toBe(false);
    expect(c.state.effects.size).toBe(0);
  });

  it('step 2: waits while a write may still be in flight, past its time bound too', () => {
    const c = core(coreConfig({ instanceId: 'me', limits: { toolTimeoutMs: 1_000 } as never }));
    c.message('m1');
    c.at(700).respond(c.lastCall().callId, { calls: [write('fc1')] });
    c.at(800).message('m2');
    expect(atGate(c, c.lastCall().callId, [write('fc2', 'update_order')])).toEqual({ kind: 'wait' });
    c.at(2_000).tick();
    expect(c.state.effects.get(effectIds(c)[0]!)!.status).toBe('unknown');
    const again = c.state.calls.get(c.lastCall().callId)!;
    expect(
      writeGate(c.state, c.config, c.state.attempts.get(again.attemptId)!, again, again.toolCalls),
    ).toEqual({ kind: 'wait' });
  });

  it('step 2: refuses every write as blocked while a write that no check could settle stays unknown', () => {
    const c = core(
      coreConfig({ instanceId: 'me', limits: { toolTimeoutMs: 1_000, toolHangMs: 2_000 } as never }),
    );
    c.message('m1');
    c.at(700).respond(c.lastCall().callId, { calls: [write('fc1')] });
    c.at(3_000).tick();
    const effect = effectIds(c)[0]!;
    c.append([{ type: 'effect.checked', effectId: effect, note: 'no reconcile' }]);
    c.at(3_100).message('m2');
    const decision = atGate(c, c.lastCall().callId, [write('fc2', 'update_order')]);
    expect(decision).toMatchObject({ kind: 'refuse', refusals: [{ toolCallId: 'fc2', reason: 'blocked' }] });
  });

  it('step 3: rebases writes whose context lacks a settled effect', () => {
    const c = core(coreConfig({ instanceId: 'me', onSettleDuringFirstCall: 'rebase' }));
    c.message('m1');
    c.at(700).respond(c.lastCall().callId, { calls: [write('fc1')] });
    c.at(800).message('m2');
    c.at(900).settleEffect(effectIds(c)[0]!);
    const decision = atGate(c, c.lastCall().callId, [write('fc2', 'update_order')]);
    expect(decision).toMatchObject({ kind: 'refuse', refusals: [{ toolCallId: 'fc2', reason: 'rebase' }] });
  });

  it('step 4: answers a key that already ran with its recorded result, and runs nothing', () => {
    const c = core();
    c.message('m1');
    c.at(700).respond(c.lastCall().callId, { calls: [write('fc1')] });
    c.at(900).settleEffect(effectIds(c)[0]!, '{"order_id":"ord_1"}');
    // The attempt's next call asks for the same key again.
    const decision = atGate(c, c.lastCall().callId, [write('fc1')]);
    expect(decision).toEqual({
      kind: 'start',
      start: [],
      refusals: [{ toolCallId: 'fc1', reason: 'duplicate-key', output: '{"order_id":"ord_1"}' }],
    });
  });

  it('step 4: runs a key again, under a new generation, once a later run of its tool overtook its result', () => {
    // update_order sets the whole order: in one turn the customer asks for 1 burger, then 4, then 1
    // again (seed 678 of the adversarial world). The third call has the first one's key, but the
    // first one's result is no longer the tool's last word: replaying it would tell the model the
    // order holds 1 burger while it holds 4.
    const c = core();
    c.message('m1');
    const one = write('fc1', 'update_order', 'update_order:t1:burger=1');
    atGate(c, c.lastCall().callId, [one]);
    c.at(700).tick();
    c.at(800).settleEffect(effectIds(c)[0]!, '{"burger":1}');
    atGate(c, c.lastCall().callId, [write('fc2', 'update_order', 'update_order:t1:burger=4')]);
    c.at(1_500).tick();
    c.at(1_600).settleEffect(effectIds(c)[1]!, '{"burger":4}');
    expect(atGate(c, c.lastCall().callId, [{ ...one, id: 'fc3' }])).toEqual({
      kind: 'start',
      refusals: [],
      start: [
        {
          toolCallId: 'fc3',
          tool: 'update_order',
          arguments: '{}',
          idempotencyKey: 'update_order:t1:burger=1#2',
          generation: 2,
        },
      ],
    });
  });

  it('step 4: still answers a key with its recorded result when only another tool ran since', () => {
    const c = core();
    c.message('m1');
    const create = write('fc1', 'create_order', 'create_order:t1:pizza');
    atGate(c, c.lastCall().callId, [create]);
    c.at(700).tick();
    c.at(800).settleEffect(effectIds(c)[0]!, '{"order_id":"ord_1"}');
    atGate(c, c.lastCall().callId, [write('fc2', 'update_order', 'update_order:t1:pizza+cola')]);
    c.at(1_500).tick();
    c.at(1_600).settleEffect(effectIds(c)[1]!, '{"order_id":"ord_1","cola":1}');
    expect(atGate(c, c.lastCall().callId, [{ ...create, id: 'fc3' }])).toEqual({
      kind: 'start',
      start: [],
      refusals: [{ toolCallId: 'fc3', reason: 'duplicate-key', output: '{"order_id":"ord_1"}' }],
    });
  });

  it('step 5: starts the other writes as one batch, a key repeated in the response once, a failed key under a new generation', () => {
    const c = core();
    c.message('m1');
    c.at(700).respond(c.lastCall().callId, { calls: [write('fc1')] });
    c.append([
      {
        type: 'effect.settled',
        effectId: effectIds(c)[0]!,
        outcome: 'failed',
        output: '{"error":"no stock"}',
      },
    ]);
    c.tick();
    const decision = atGate(c, c.lastCall().callId, [
      write('fc1'),
      write('fc2', 'update_order'),
      write('fc3', 'update_order', 'update_order:fc2'),
    ]);
    expect(decision).toEqual({
      kind: 'start',
      refusals: [{ toolCallId: 'fc3', reason: 'duplicate-call', output: expect.any(String) }],
      start: [
        {
          toolCallId: 'fc1',
          tool: 'create_order',
          arguments: '{}',
          idempotencyKey: 'create_order:fc1#2',
          generation: 2,
        },
        { toolCallId: 'fc2', tool: 'update_order', arguments: '{}', idempotencyKey: 'update_order:fc2' },
      ],
    });
  });
});

describe('backoff', () => {
  const config = coreConfig({ instanceId: 'me', limits: { retryBaseMs: 100, retryMaxMs: 1_000 } as never });
  const failed = (kind: 'retryable' | 'aborted', retryAfterMs: number | null = null) =>
    ({ callId: 'call_1', failure: { kind, message: 'x', retryAfterMs, at: 10_000 } }) as never;

  it('doubles the wait with each failure in a row, up to the bound', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => retryAt(config, failed('retryable'), n) - 10_000)).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });

  it("waits for the server's retry-after when it is longer, and retries an aborted call at once", () => {
    expect(retryAt(config, failed('retryable', 5_000), 1)).toBe(15_000);
    expect(retryAt(config, failed('aborted'), 3)).toBe(10_000);
  });
});

describe('graft placement', () => {
  it('grafts an effect at its place among the messages, after a note that names where it belongs', () => {
    const c = core();
    c.message('m1', 'I want a pizza');
    c.at(700).respond(c.lastCall().callId, { calls: [write('fc1')] });
    c.at(800).message('m2', 'and a cola');
    const kinds = c
      .lastCall()
      .entries.map((e) => (e.messageId ?? (e.item.type === 'message' ? e.item.role : e.item.type)) as string);
    expect(kinds).toEqual(['m1', 'developer', 'function_call', 'function_call_output', 'm2']);
    const note = c.lastCall().entries[1]!.item;
    expect(note).toMatchObject({
      content: expect.stringContaining(
        'after the customer wrote "I want a pizza", before "and a cola" was read',
      ),
    });
  });

  it('grafts an effect again, as a new pair, when its status changed since the context was told', () => {
    const c = core(coreConfig({ instanceId: 'me', onSettleDuringFirstCall: 'rebase' }));
    c.message('m1');
    c.at(700).respond(c.lastCall().callId, { calls: [write('fc1')] });
    c.at(800).message('m2');
    const b1 = c.lastCall().callId;
    c.at(900).settleEffect(effectIds(c)[0]!);
    c.at(1_000).respond(b1, { text: 'Your order is being placed.' });
    const rebase = c.lastCall();
    expect(rebase).toMatchObject({ parent: b1, reason: 'rebase' });
    const grafts = rebase.entries.filter((e) => e.item.type === 'function_call_output');
    expect(
      grafts.map((e) => [e.item.type === 'function_call_output' && e.item.call_id, e.effect?.status]),
    ).toEqual([[expect.stringMatching(/_2$/), 'done']]);
  });
});

describe('humans in the loop', () => {
  /** m1's attempt asks for a `cancel` that needs approval (waiting up to 60 s). */
  function requested() {
    const c = core();
    c.message('m1');
    c.at(700).respond(c.lastCall().callId, {
      calls: [{ id: 'fc1', name: 'cancel', kind: 'write', approvalMs: 60_000 }],
    });
    const effect = [...c.state.effects.values()][0]!;
    return { c, effect };
  }

  it('records a write that needs approval as a request: it runs nothing, and the model is told it awaits', () => {
    const { c, effect } = requested();
    expect(effect.status).toBe('awaiting');
    expect(effect.approval).toMatchObject({ requestedAt: 700, expiresAt: 60_700, decision: null });
    const io = c.tick();
    expect(types(io)).toEqual(['call-model']);
    expect(io.wakeAt).toBeLessThanOrEqual(60_700);
    expect(c.lastCall().entries[0]!.effect).toEqual({ effectId: effect.effectId, status: 'awaiting' });
    expect(JSON.stringify(c.lastCall().entries[0]!.item)).toContain('awaiting_approval');
    // The reply gate does not wait for a request: the reply goes out while it waits.
    c.at(1_400).respond(c.lastCall().callId, { text: 'A colleague will confirm.' });
    expect(c.state.replies.map((r) => r.kind)).toEqual(['reply']);
    expect(unfinished(c.state)).toBe(true);
  });

  it('refuses every other write while a request waits, at once', () => {
    const { c } = requested();
    c.at(1_400).respond(c.lastCall().callId, { calls: [{ id: 'fc2', name: 'add', kind: 'write' }] });
    const refused = c.log.find((e) => e.type === 'tool.refused');
    expect(refused).toMatchObject({ refusals: [{ toolCallId: 'fc2', reason: 'awaiting-approval' }] });
    expect(c.state.effects.size).toBe(1);
  });

  it('expires a request at its bound, and the follow-up tells the model it was not done', () => {
    const { c, effect } = requested();
    c.at(1_400).respond(c.lastCall().callId, { text: 'A colleague will confirm.' });
    c.at(60_699).tick();
    expect(effect.status).toBe('awaiting');
    c.at(60_700).tick();
    expect(effect).toMatchObject({ status: 'failed', approval: { decision: 'expired' } });
    expect(c.lastCall().entries.some((e) => JSON.stringify(e.item).includes('in time'))).toBe(true);
    expect(c.state.attempts.get(c.lastCall().attemptId)?.reason).toBe('follow-up');
  });

  it('withdraws the request of a superseded attempt before the next attempt starts, so its context says so', () => {
    const { c, effect } = requested();
    c.at(1_000).message('m2');
    expect(effect).toMatchObject({ status: 'failed', approval: { decision: 'withdrawn' } });
    const types = c.log.map((e) => e.type);
    expect(types.indexOf('effect.rejected')).toBeLessThan(types.lastIndexOf('attempt.started'));
    const grafted = c.lastCall().entries.find((e) => e.effect?.effectId === effect.effectId);
    expect(grafted?.effect?.status).toBe('failed');
    expect(JSON.stringify(grafted?.item)).toContain('withdrawn');
    expect(() =>
      decideRequest(
        c.state,
        effect.effectId,
        { decision: 'approve', operator: 'ana' },
        { instanceId: 'me', now: 0, leaseUntil: 0 },
      ),
    ).toThrow(/withdrawn/);
  });

  it('runs an approved write on the deciding instance, under its key', () => {
    const { c, effect } = requested();
    c.at(1_400).respond(c.lastCall().callId, { text: 'A colleague will confirm.' });
    c.append([
      decideRequest(
        c.state,
        effect.effectId,
        { decision: 'approve', operator: 'ana' },
        { instanceId: 'other', now: 1_400, leaseUntil: 20_000 },
      ),
    ]);
    // Its time bounds count from the approval, not from the request.
    expect(effect).toMatchObject({ status: 'running', owner: 'other', startedAt: 1_400 });
    expect(types(c.tick())).not.toContain('run-write');
    expect(c.tickAs('other').commands).toContainEqual(
      expect.objectContaining({ type: 'run-write', effectId: effect.effectId, idempotencyKey: 'cancel:fc1' }),
    );
  });

  it('supersedes the live attempt on takeover, answers nothing until release, then knows what the operator said', () => {
    const c = core();
    c.message('m1');
    const first = c.lastCall().callId;
    c.append([takeOver(c.state, 'ana')]);
    expect(c.state.live).toBeNull();
    expect(c.tick().commands).toContainEqual({ type: 'abort-model', callId: first });
    const calls = c.state.calls.size;
    c.at(1_000).message('m2');
    expect(c.state.calls.size).toBe(calls);
    expect(unfinished(c.state)).toBe(false);
    c.append([operatorReply(c.state, 'We are on it.', 8_000)]);
    expect(c.state.replies[0]).toMatchObject({ kind: 'operator', operator: 'ana', covers: ['m1', 'm2'] });
    expect(types(c.tick())).toEqual(['abort-model', 'deliver']);
    c.append([release(c.state)]);
    c.at(2_000).message('m3');
    const texts = c.lastCall().entries.map((e) => (e.item.type === 'message' ? e.item.content : ''));
    expect(texts).toEqual([
      'm1',
      'm2',
      expect.stringContaining('member of staff (ana)'),
      'We are on it.',
      'm3',
    ]);
  });

  it('refuses acts the state does not allow', () => {
    const c = core();
    c.message('m1');
    expect(() => operatorReply(c.state, 'hi', 100)).toThrow(/not taken over/);
    expect(() => release(c.state)).toThrow(/not taken over/);
    c.append([takeOver(c.state, 'ana')]);
    expect(() => takeOver(c.state, 'bob')).toThrow(/already taken over by ana/);
    expect(() => operatorReply(c.state, ' ', 100)).toThrow(/non-empty/);
    expect(() => operatorReply(c.state, 'x'.repeat(101), 100)).toThrow(/longer than 100/);
    expect(() =>
      decideRequest(
        c.state,
        'eff_9_1' as never,
        { decision: 'approve', operator: 'ana' },
        { instanceId: 'me', now: 0, leaseUntil: 0 },
      ),
    ).toThrow(/no request for approval/);
  });
});

import { describe, expect, it } from 'vitest';
import type { BrainOutput, BrainRequest } from '../src/core/brain.js';
import type { InputItem } from '../src/core/items.js';
import { notices } from '../src/core/context.js';
import { simCommand } from '../src/cli/sim-command.js';
import { rejectionOutput } from '../src/core/state.js';
import type { Order } from '../src/demo/shop/shop.js';
import { AWAITING_TEXT, adversarialBrain } from '../src/sim/adversarial-brain.js';
import {
  COVERAGE_MIN_CONVERSATIONS,
  REQUIRED_COVERAGE,
  emptyCoverage,
  missingCoverage,
} from '../src/sim/coverage.js';
import { historyFindings } from '../src/sim/history-checks.js';
import { missingWithHumans } from '../src/sim/human-checks.js';
import { InstanceClock } from '../src/sim/instance-clock.js';
import type {
  ConversationRecord,
  HumanLogEntry,
  HumanRecord,
  ModelCallRecord,
  OperatorAct,
  RequestRecord,
} from '../src/sim/recorder.js';
import { runRange, runSim, runStrategy } from '../src/sim/run.js';
import type { ToolInvocation } from '../src/sim/tool-log.js';
import { VirtualClock } from '../src/sim/virtual-clock.js';
import type { ScriptedMessage } from '../src/sim/workload.js';

const adversarial = { seed: 5, conversations: 40, faults: false, world: 'adversarial' } as const;

function record(partial: Partial<ConversationRecord>): ConversationRecord {
  return {
    conversationId: 'c',
    messages: [],
    calls: [],
    effects: [],
    replies: [],
    invocations: [],
    reconciles: [],
    coverage: null,
    errors: [],
    writeDecisions: new Map(),
    ...partial,
  };
}

function call(op: number, partial: Partial<ModelCallRecord>): ModelCallRecord {
  return {
    at: op,
    op,
    held: new Set(),
    userTexts: [],
    inputTokens: 0,
    outputTokens: 0,
    aborted: false,
    seen: new Map(),
    ...partial,
  };
}

/** A write that started at op `start`, wrote at `wrote` (null: never) and ended at `end`. */
function write(
  key: string,
  start: number,
  wrote: number | null,
  end: number | null,
  partial: Partial<ToolInvocation> = {},
): ToolInvocation {
  return {
    tool: 'create_order',
    key,
    toolCallId: `call_${key}`,
    effectId: null,
    runner: 'i0',
    requestedBy: null,
    startAt: start,
    startOp: start,
    endAt: end,
    endOp: end,
    wroteAt: wrote,
    wroteOp: wrote,
    changed: wrote !== null,
    fenced: false,
    outcome: end === null ? 'running' : wrote === null ? 'rejected' : 'returned',
    ...partial,
  };
}

const rules = (r: ConversationRecord) => historyFindings(r).map((f) => f.guarantee);

function humans(partial: Partial<HumanRecord> = {}): HumanRecord {
  return {
    approvalTools: ['cancel_order'],
    clockSpreadMs: 0,
    approvalTimeoutMs: 4_000,
    requests: new Map(),
    started: new Map(),
    attemptEnds: new Map(),
    log: [],
    acts: [],
    ...partial,
  };
}

type Decided = NonNullable<RequestRecord['decision']>;

/**
 * A request for approval of `cancel_order` eff_1 under key `k` that expires at 1,000 ms, decided at
 * op `op` (by default at 500 ms; null: pending).
 */
function request(
  decision: (Omit<Decided, 'at'> & { at?: number }) | null,
  decisions = decision ? 1 : 0,
): Map<string, RequestRecord> {
  const r: RequestRecord = {
    effectId: 'eff_1',
    attemptId: 'att_1',
    toolCallId: 'call_k',
    tool: 'cancel_order',
    key: 'k',
    seq: 1,
    op: 1,
    expiresAt: 1_000,
    decision: decision ? { at: 500, ...decision } : null,
    decisions,
  };
  return new Map([['eff_1', r]]);
}

const approvedAt = (op: number, operator = 'ana/d1') => ({
  kind: 'approved' as const,
  seq: op,
  op,
  operator,
});

/** graft's log, one entry per seq: `[type, detail]`. */
const log = (...entries: (readonly [HumanLogEntry['type'], string])[]): HumanLogEntry[] =>
  entries.map(([type, detail], i) => ({ seq: i + 1, op: i + 1, type, detail }));

function decide(operator: string, outcome: string, partial: Partial<OperatorAct> = {}): OperatorAct {
  return {
    kind: 'decide',
    via: 'i0',
    operator,
    effectId: 'eff_1',
    decision: 'reject',
    late: false,
    startOp: 6,
    endOp: 7,
    endInstanceMs: 600,
    outcome,
    ...partial,
  };
}

describe("the adversarial world's checker", () => {
  it('reports a context that lacks an effect, or holds it at another status than the ledger had', () => {
    const ledger = new Map([['call_a', 'done' as const]]);
    expect(
      rules(record({ calls: [call(1, { callId: 'c1', ledger, seen: new Map([['call_a', 'done']]) })] })),
    ).toEqual([]);
    expect(rules(record({ calls: [call(1, { callId: 'c1', ledger, seen: new Map() })] }))).toEqual([4]);
    const stale = historyFindings(
      record({ calls: [call(1, { callId: 'c1', ledger, seen: new Map([['call_a', 'running']]) })] }),
    );
    expect(stale.map((f) => f.detail)).toEqual([
      "model call #0 (c1) holds effect call_a as running; graft's ledger had it done",
    ]);
  });

  it('reports a reply drafted on a context that missed a status change before the commit', () => {
    const reply = (ledger?: Map<string, 'running' | 'done'>) => ({
      text: 't',
      covers: [],
      kind: 'reply' as const,
      committedAt: 9,
      committedOp: 9,
      deliveredAt: 9,
      fromCall: 0,
      ...(ledger ? { ledger } : {}),
    });
    const draft = call(5, {
      callId: 'c1',
      ledger: new Map([['call_a', 'running']]),
      seen: new Map([['call_a', 'running']]),
    });
    expect(rules(record({ calls: [draft], replies: [reply(new Map([['call_a', 'running']]))] }))).toEqual([]);
    expect(rules(record({ calls: [draft], replies: [reply(new Map([['call_a', 'done']]))] }))).toEqual([2]);
    // Without a ledger, the tools' own log at the commit: the write ended (and wrote) before it.
    const baseline = call(5, { seen: new Map([['call_k', 'running']]) });
    expect(
      rules(record({ calls: [baseline], invocations: [write('k', 1, 2, 6)], replies: [reply()] })),
    ).toEqual([2]);
  });

  it("reports a call it cannot link to graft's log, and a context that repeats a call id", () => {
    expect(rules(record({ calls: [call(1, { ledger: null })] }))).toEqual([4]);
    expect(
      rules(record({ calls: [call(1, { ledger: new Map(), repeatedCallIds: ['graft_eff_5_1_1'] })] })),
    ).toEqual([4]);
  });

  it("judges a strategy without a ledger by the tools' own log when the call was made", () => {
    const invocations = [write('k1', 1, 2, 3), write('k2', 4, null, null)];
    // At op 5, k1 is done and k2 still runs: a context must hold both, at those statuses.
    const both = new Map([
      ['call_k1', 'done' as const],
      ['call_k2', 'running' as const],
    ]);
    expect(rules(record({ invocations, calls: [call(5, { seen: both })] }))).toEqual([]);
    expect(
      rules(record({ invocations, calls: [call(5, { seen: new Map([['call_k1', 'done']]) })] })),
    ).toEqual([4]);
    // A write that threw after the shop took it is done, whatever its caller was told.
    const threw = [write('k3', 1, 2, 3, { outcome: 'threw' })];
    expect(
      rules(record({ invocations: threw, calls: [call(4, { seen: new Map([['call_k3', 'failed']]) })] })),
    ).toEqual([4]);
  });

  it('reports writes that overlap, but not a fenced late run, a failure before writing, or the writes of one response', () => {
    expect(rules(record({ invocations: [write('a', 1, 5, 6), write('b', 3, 4, 7)] }))).toEqual([3]);
    expect(rules(record({ invocations: [write('a', 1, 2, 9), write('b', 3, 4, 5)] }))).toEqual([]);
    expect(
      rules(record({ invocations: [write('a', 1, null, 9, { fenced: true }), write('b', 3, 4, 5)] })),
    ).toEqual([]);
    expect(
      rules(record({ invocations: [write('a', 1, null, 9, { outcome: 'threw' }), write('b', 3, 4, 5)] })),
    ).toEqual([]);
    // Two writes of one response were decided together.
    expect(
      rules(
        record({
          invocations: [write('a', 1, 5, 6, { requestedBy: 2 }), write('b', 3, 4, 7, { requestedBy: 2 })],
        }),
      ),
    ).toEqual([]);
  });

  it('reports a write decided on a context without a message received before the decision', () => {
    const messages = [
      { id: 'm1', text: 'two pizzas', at: 0, op: 1, contended: false },
      { id: 'm2', text: 'no, a burger', at: 0, op: 3, contended: false },
    ];
    const replies = [
      {
        text: 't',
        covers: ['m1', 'm2'],
        kind: 'reply' as const,
        committedAt: 9,
        committedOp: 9,
        deliveredAt: 9,
      },
    ];
    const asker = call(2, { userTexts: ['two pizzas'] });
    const run = write('k', 5, 6, 7, { requestedBy: 0 });
    expect(rules(record({ messages, replies, calls: [asker], invocations: [run] }))).toEqual([3]);
    // graft decided it (effect.started) before m2 arrived: not blind, however late the run started.
    expect(
      rules(
        record({
          messages,
          replies,
          calls: [asker],
          invocations: [run],
          writeDecisions: new Map([['call_k', 2]]),
        }),
      ),
    ).toEqual([]);
    expect(
      rules(
        record({
          messages,
          replies,
          calls: [call(4, { userTexts: ['two pizzas', 'no, a burger'] })],
          invocations: [run],
        }),
      ),
    ).toEqual([]);
  });

  it('reports a key invoked twice; each key generation is a key of its own', () => {
    expect(rules(record({ invocations: [write('k', 1, null, 2), write('k#2', 3, 4, 5)] }))).toEqual([]);
    const twice = historyFindings(
      record({ invocations: [write('k', 1, null, 2), write('k', 3, 4, 5, { runner: 'i1' })] }),
    );
    expect(twice.map((f) => [f.guarantee, f.detail])).toEqual([[5, 'key k was invoked 2 times (by i0, i1)']]);
  });

  it("reports a message without a delivered reply, one covered twice, and graft's errors", () => {
    const messages = [
      { id: 'm1', text: 'hi', at: 0, op: 1, contended: false },
      { id: 'm2', text: 'and', at: 0, op: 2, contended: false },
    ];
    const reply = (covers: string[], deliveredAt: number | null) => ({
      text: 't',
      covers,
      kind: 'reply' as const,
      committedAt: 1,
      committedOp: 3,
      deliveredAt,
    });
    expect(rules(record({ messages, replies: [reply(['m1', 'm2'], 1)] }))).toEqual([]);
    expect(rules(record({ messages, replies: [reply(['m1', 'm2'], null)] }))).toEqual([8]);
    expect(rules(record({ messages, replies: [reply(['m1', 'm2'], 1), reply(['m2'], 2)] }))).toEqual([2]);
    expect(rules(record({ errors: ['instance i1: InvariantViolation: boom'] }))).toEqual([0]);
  });

  it('requires every coverage counter above 0 only in runs large enough to reach them all', () => {
    const coverage = { ...emptyCoverage(), followUps: 1 };
    expect(missingCoverage(coverage, COVERAGE_MIN_CONVERSATIONS - 1)).toEqual([]);
    expect(missingCoverage(coverage, COVERAGE_MIN_CONVERSATIONS)).toContain('takeovers');
    expect(missingCoverage(coverage, COVERAGE_MIN_CONVERSATIONS)).not.toContain('followUps');
  });
});

describe("the checker's rules on humans in the loop", () => {
  const cancel = (partial: Partial<ToolInvocation> = {}) =>
    write('k', 3, 4, 5, { tool: 'cancel_order', effectId: 'eff_1', ...partial });

  it('reports a write that needs approval and ran without one, before it, or under another key', () => {
    const judge = (
      requests: Map<string, RequestRecord>,
      run = cancel(),
      attemptEnds = new Map<string, number>(),
    ) => rules(record({ invocations: [run], humans: humans({ requests, attemptEnds }) }));
    expect(judge(request(approvedAt(2)))).toEqual([]);
    expect(judge(new Map())).toEqual([9]);
    expect(judge(request(null))).toEqual([9]);
    expect(judge(request({ kind: 'rejected', seq: 2, op: 2, operator: 'ana/d1' }))).toEqual([9]);
    // Withdrawn when its attempt was superseded (at seq 2).
    const withdrawn = request({ kind: 'withdrawn', seq: 3, op: 2, operator: null });
    expect(judge(withdrawn, cancel(), new Map([['att_1', 2]]))).toEqual([9]);
    expect(judge(request(approvedAt(4)))).toEqual([9]);
    expect(judge(request(approvedAt(2)), cancel({ key: 'k#2' }))).toEqual([9]);
    // A write that needs no approval needs no request.
    expect(judge(new Map(), write('k', 3, 4, 5, { effectId: 'eff_1' }))).toEqual([]);
  });

  it('reports a write started, or one that reached the shop, while a request awaited approval', () => {
    const judge = (partial: Partial<HumanRecord>, invocations: ToolInvocation[] = []) =>
      rules(record({ invocations, humans: humans({ requests: request(approvedAt(5)), ...partial }) }));
    const started = (seq: number, detail: string) => ({
      seq,
      op: seq,
      type: 'effect.started' as const,
      detail,
    });
    // The request eff_1 (seq 1, op 1) was approved at seq and op 5.
    expect(judge({ log: [started(1, 'cancel_order eff_1'), started(6, 'create_order eff_6_1')] })).toEqual(
      [],
    );
    expect(judge({ log: [started(1, 'cancel_order eff_1'), started(3, 'create_order eff_3_1')] })).toEqual([
      9,
    ]);
    // A write of the request's own response may run meanwhile; another may not reach the shop.
    const update = (effectId: string) => write('u', 2, 3, 4, { tool: 'update_order', effectId });
    expect(judge({ started: new Map([['eff_1_2', 1]]) }, [update('eff_1_2')])).toEqual([]);
    expect(judge({ started: new Map([['eff_0_1', 0]]) }, [update('eff_0_1')])).toEqual([9]);
  });

  it('reports what the bot starts while a person has the conversation, but not their approvals and replies', () => {
    const judge = (...entries: (readonly [HumanLogEntry['type'], string])[]) =>
      rules(record({ humans: humans({ log: log(...entries) }) }));
    const taken = ['conversation.taken-over', 'ana'] as const;
    const released = ['conversation.released', 'ana'] as const;
    expect(
      judge(
        ['attempt.started', 'att_1'],
        ['effect.started', 'create_order eff_2_1'],
        taken,
        ['reply.committed', 'operator'],
        ['effect.approved', 'cancel_order eff_2_1'],
        released,
        ['model.requested', 'call_7'],
        ['reply.committed', 'reply'],
      ),
    ).toEqual([]);
    for (const inside of [
      ['reply.committed', 'reply'],
      ['reply.committed', 'fallback'],
      ['effect.started', 'create_order eff_2_1'],
      ['attempt.started', 'att_2'],
      ['model.requested', 'call_2'],
    ] as const)
      expect(judge(taken, inside, released), inside.join(' ')).toEqual([9]);
    expect(judge(taken), 'never released').toEqual([9]);
    expect(judge(['reply.committed', 'operator']), 'an operator reply while the bot has it').toEqual([9]);
  });

  it('reports a decision that succeeded on a request no longer pending, and one refused while it was pending', () => {
    const judge = (requests: Map<string, RequestRecord>, ...acts: OperatorAct[]) =>
      rules(record({ humans: humans({ requests, acts }) }));
    const rejected = request({ kind: 'rejected', seq: 5, op: 5, operator: 'ana/d1' });
    expect(judge(rejected, decide('ana/d1', 'ok'), decide('ana/d2', 'request_not_pending'))).toEqual([]);
    // A second decision that succeeded: the log's decision is another act's.
    expect(judge(rejected, decide('ana/d2', 'ok', { late: true }))).toEqual([9]);
    expect(judge(rejected, decide('ana/d1', 'ok', { decision: 'approve' }))).toEqual([9]);
    // On an expired or withdrawn request (no operator), a decision never succeeds.
    expect(
      judge(request({ kind: 'expired', seq: 5, op: 5, operator: null }), decide('ana/d1', 'ok')),
    ).toEqual([9]);
    // Refused while the request was still pending (its end came after the refusal), or with another code.
    expect(judge(rejected, decide('ana/d2', 'request_not_pending', { endOp: 4 }))).toEqual([9]);
    expect(judge(request(null), decide('ana/d2', 'request_not_pending'))).toEqual([9]);
    // Refused past its bound (1,000 ms) by the deciding instance's clock, before the expiry was recorded.
    const expiredLater = request({ kind: 'expired', seq: 9, op: 9, operator: null, at: 1_000 });
    expect(judge(expiredLater, decide('ana/d2', 'request_not_pending', { endInstanceMs: 1_000 }))).toEqual(
      [],
    );
    expect(judge(expiredLater, decide('ana/d2', 'request_not_pending', { endInstanceMs: 999 }))).toEqual([9]);
    expect(judge(rejected, decide('ana/d2', 'request_not_found'))).toEqual([9]);
    expect(judge(request(approvedAt(5), 2))).toEqual([9]);
    // Decided after its bound (1,000 ms), or expired before it.
    expect(judge(request({ ...approvedAt(5), at: 1_000 }))).toEqual([9]);
    expect(judge(request({ kind: 'expired', seq: 5, op: 5, operator: null, at: 999 }))).toEqual([9]);
    expect(judge(request({ kind: 'expired', seq: 5, op: 5, operator: null, at: 1_000 }))).toEqual([]);
    // Its attempt was superseded (at seq 3) before the decision: it had to be withdrawn; and only then.
    const superseded = new Map([['att_1', 3]]);
    const withdrawn = request({ kind: 'withdrawn', seq: 4, op: 4, operator: null });
    expect(rules(record({ humans: humans({ requests: withdrawn, attemptEnds: superseded }) }))).toEqual([]);
    expect(rules(record({ humans: humans({ requests: rejected, attemptEnds: superseded }) }))).toEqual([9]);
    expect(rules(record({ humans: humans({ requests: request(null), attemptEnds: superseded }) }))).toEqual([
      9,
    ]);
    expect(rules(record({ humans: humans({ requests: withdrawn }) }))).toEqual([9]);
    const takeOver: OperatorAct = { ...decide('ana', 'already_taken_over'), kind: 'take-over' };
    expect(judge(new Map(), takeOver)).toEqual([9]);
    // A reply after the release must be refused.
    const lateReply = (outcome: string): OperatorAct => ({
      ...decide('ana', outcome, { late: true }),
      kind: 'reply',
    });
    expect(judge(new Map(), lateReply('not_taken_over'))).toEqual([]);
    expect(judge(new Map(), lateReply('ok'))).toEqual([9]);
  });

  it('does not count a cancellation a person refused, or the last wishes only a person answered, as missing', () => {
    const message = (id: string, intent: ScriptedMessage['intent']): ScriptedMessage => ({
      id,
      burst: 0,
      index: 0,
      atMs: 0,
      intent,
      text: id,
    });
    const pizza = { kind: 'order' as const, items: [{ product: 'pizza', quantity: 1 }] };
    const cola = { kind: 'add' as const, items: [{ product: 'cola', quantity: 1 }] };
    const order = (items: Order['items'], status: Order['status'] = 'confirmed'): Order => ({
      orderId: 'ord_1',
      conversationId: 'c',
      items,
      status,
      idempotencyKey: 'k0',
    });
    const reply = (covers: string[], kind: 'reply' | 'operator' = 'reply') => ({
      text: 't',
      covers,
      kind,
      committedAt: 1,
      committedOp: 1,
      deliveredAt: 1,
    });
    const onePizza = [order([{ product: 'pizza', quantity: 1 }])];
    // The customer orders a pizza (answered), adds a cola and cancels in one breath.
    const messages = [message('m1', pizza), message('m2', cola), message('m3', { kind: 'cancel' })];
    const replies = [reply(['m1']), reply(['m2', 'm3'])];
    const missing = (requests: Map<string, RequestRecord>, invocations: ToolInvocation[] = []) =>
      missingWithHumans(record({ replies, invocations, humans: humans({ requests }) }), onePizza, messages);
    expect(missing(new Map())).toBe(1);
    expect(missing(request({ kind: 'rejected', seq: 5, op: 5, operator: 'ana/d1' }))).toBe(0);
    expect(missing(request({ kind: 'expired', seq: 5, op: 5, operator: null }))).toBe(0);
    // Approved: refused by the shop, it is excused; taken by the shop, the order must be cancelled.
    expect(
      missing(request(approvedAt(2)), [write('k', 3, null, 5, { tool: 'cancel_order', effectId: 'eff_1' })]),
    ).toBe(0);
    expect(
      missing(request(approvedAt(2)), [write('k', 3, 4, 5, { tool: 'cancel_order', effectId: 'eff_1' })]),
    ).toBe(1);
    // Only a person answered the cola: the pizza alone is fine, as is the pizza with a cola.
    const added = messages.slice(0, 2);
    const judge = (r: ReturnType<typeof reply>[]) =>
      missingWithHumans(record({ replies: r, humans: humans() }), onePizza, added);
    expect(judge([reply(['m1']), reply(['m2'], 'operator')])).toBe(0);
    expect(judge([reply(['m1']), reply(['m2'])])).toBe(1);
  });
});

describe('the adversarial model and instances', () => {
  const order: BrainOutput = {
    type: 'function_call',
    name: 'create_order',
    arguments: '{"items":[{"product":"pizza","quantity":1}]}',
  };
  const pair = (callId: string, output: string): InputItem[] => [
    { type: 'function_call', call_id: callId, name: 'create_order', arguments: order.arguments },
    { type: 'function_call_output', call_id: callId, output },
  ];
  const user: InputItem = { type: 'message', role: 'user', content: 'One pizza, please.' };
  const request = (input: InputItem[]): BrainRequest => ({
    model: 'm',
    instructions: null,
    input,
    tools: [],
  });

  it('hides every call its context does not prove done, pair by pair, and answers a context alike every time', () => {
    const seen: (readonly InputItem[])[] = [];
    const brain = adversarialBrain((r) => (seen.push(r.input), [order]), 1, {
      repeatWriteRate: 0,
      ignoreDeveloperRate: 0,
      trustRate: 0,
      repeatAwaitingRate: 0,
    });
    const done = '{"order_id":"ord_1","status":"confirmed","items":[]}';
    const input = [
      user,
      ...pair('graft_e_1', notices.running),
      ...pair('graft_e_1', done),
      ...pair('call_2', notices.unknown),
      ...pair('call_3', notices.notHappened),
    ];
    expect(brain(request(input))).toEqual(brain(request(input)));
    expect(seen[0]).toEqual([user, ...pair('graft_e_1', done)]);
  });

  it('hides a request awaiting approval from some contexts, never how a request ended, and stops asking once graft refused a write for it', () => {
    const cancel: BrainOutput = {
      type: 'function_call',
      name: 'cancel_order',
      arguments: '{"order_id":"ord_1"}',
    };
    const cancelPair = (callId: string, output: string): InputItem[] => [
      { type: 'function_call', call_id: callId, name: 'cancel_order', arguments: cancel.arguments },
      { type: 'function_call_output', call_id: callId, output },
    ];
    const seen: (readonly InputItem[])[] = [];
    const options = { repeatWriteRate: 0, ignoreDeveloperRate: 0, trustRate: 0, repeatAwaitingRate: 1 };
    const brain = adversarialBrain((r) => (seen.push(r.input), [cancel]), 1, options);
    const ended = cancelPair('call_1', rejectionOutput('rejected', 'It has shipped.'));
    const waiting = cancelPair('call_2', notices.awaiting);
    expect(brain(request([user, ...ended, ...waiting]))).toEqual([cancel]);
    expect(seen[0]).toEqual([user, ...ended]);
    const kept = adversarialBrain((r) => (seen.push(r.input), [cancel]), 1, {
      ...options,
      repeatAwaitingRate: 0,
    });
    kept(request([user, ...waiting]));
    expect(seen[1]).toEqual([user, ...waiting]);
    // graft refused the write because a request awaits: the model says so instead of asking again.
    const refused = [user, ...waiting, ...cancelPair('call_3', notices.awaitingOther('cancel_order'))];
    expect(brain(request(refused))).toEqual([{ type: 'message', text: AWAITING_TEXT }]);
    // Until the customer writes again.
    expect(brain(request([...refused, { ...user, content: 'Cancel it!' }]))).toEqual([cancel]);
  });

  it('repeats a write call within one response for some contexts', () => {
    const brain = adversarialBrain(() => [order], 1, {
      repeatWriteRate: 0.5,
      ignoreDeveloperRate: 0,
      trustRate: 0,
      repeatAwaitingRate: 0,
    });
    const sizes = new Set(
      Array.from({ length: 40 }, (_, i) => brain(request([{ ...user, content: `pizza ${i}` }])).length),
    );
    expect([...sizes].sort()).toEqual([1, 2]);
  });

  it("runs an instance's timers on its skewed clock and holds them until its stall ends", async () => {
    const base = new VirtualClock(0);
    const clock = new InstanceClock(base, 500, [[1_000, 4_000]]);
    const fired: [string, number][] = [];
    expect(clock.now()).toBe(500);
    clock.setTimer(1_200, () => fired.push(['early', base.now()]));
    clock.setTimer(2_000, () => fired.push(['stalled', base.now()]));
    clock.setTimer(5_500, () => fired.push(['late', base.now()]));
    base.setTimer(2_000, () => clock.defer(() => fired.push(['deferred', base.now()])));
    await base.run();
    expect(fired).toEqual([
      ['early', 700],
      ['stalled', 4_000],
      ['deferred', 4_000],
      ['late', 5_000],
    ]);
  });
});

describe('the simulator in the adversarial world', () => {
  it('gives the same history hash for the same seed, whatever the chunk or range, and another for another seed', async () => {
    const a = await runStrategy('graft', { ...adversarial, strategies: ['graft'] });
    const b = await runStrategy('graft', { ...adversarial, strategies: ['graft'], chunk: 7 });
    const c = await runStrategy('graft', { ...adversarial, seed: 6, strategies: ['graft'] });
    expect(a.historyHash).toBe(b.historyHash);
    expect(a.coverage).toEqual(b.coverage);
    expect(a.historyHash).not.toBe(c.historyHash);
    // A conversation is the same whatever range it is run in (`graft sim --first N` replays conv_N alone).
    const whole = await runRange('graft', { ...adversarial, strategies: ['graft'] }, [0, 6]);
    expect((await runRange('graft', { ...adversarial, strategies: ['graft'] }, [4, 6])).hashes).toEqual(
      whole.hashes.slice(4),
    );
  });

  it('prints byte-identical JSON, with the coverage counters, for the same flags', async () => {
    const capture = async () => {
      const lines: string[] = [];
      const { log, error } = console;
      console.log = (text: string) => lines.push(text);
      console.error = () => undefined;
      try {
        await simCommand([
          '--world',
          'adversarial',
          '--conversations',
          '12',
          '--seed',
          '3',
          '--strategy',
          'all',
          '--json',
          '--threads',
          '1',
        ]);
      } finally {
        Object.assign(console, { log, error });
      }
      return lines.join('\n');
    };
    const first = await capture();
    expect(await capture()).toBe(first);
    const parsed = JSON.parse(first) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['seed', 'conversations', 'world', 'strategies', 'coverage']);
    expect(Object.keys(parsed.coverage as object)).toEqual(Object.keys(emptyCoverage()));
  });

  it('catches the baselines, which run the same hostile tools with no gate', async () => {
    const { details } = await runSim({
      ...adversarial,
      conversations: 60,
      strategies: ['naive', 'naive-abort', 'interrupt', 'rollback'],
    });
    for (const name of ['naive', 'naive-abort', 'interrupt', 'rollback']) {
      const guarantees = new Set(details[name]!.violations.map((v) => v.guarantee));
      expect(guarantees.has(4), `${name} leaves effects out of contexts`).toBe(true);
      expect(guarantees.has(5), `${name} duplicates or misses writes`).toBe(true);
    }
  });

  it('finds no violation in graft over 300 conversations, and reaches the hostile paths', async () => {
    const result = await runStrategy('graft', { ...adversarial, conversations: 300, strategies: ['graft'] });
    const kinds = [
      ...new Set(
        result.violations.map(
          (v) => `guarantee ${v.guarantee}: ${v.detail.slice(0, 120)} (${v.conversationId})`,
        ),
      ),
    ];
    expect(
      kinds.slice(0, 10),
      `replay with: npx graft sim --world adversarial --strategy graft --seed ${adversarial.seed} --conversations 300`,
    ).toEqual([]);
    // Every required counter, humans in the loop included (requests approved, rejected, expired and
    // withdrawn; late decisions refused; takeovers during writes and model calls; operator replies).
    for (const counter of REQUIRED_COVERAGE) {
      expect(result.coverage![counter], counter).toBeGreaterThan(0);
    }
  });
});

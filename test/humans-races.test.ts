import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import type { EventStore } from '../src/core/ports.js';
import { BrainModel } from '../src/model/brain-model.js';
import { callTool, createScriptedBrain, say } from '../src/model/scripted-brain.js';
import { createGraft } from '../src/runtime/graft.js';
import { VirtualClock } from '../src/sim/virtual-clock.js';
import { MemoryStore } from '../src/store/memory/memory-store.js';
import { defineTool } from '../src/tools/define-tool.js';

/**
 * Races between a person's decision and graft's own view of a request for approval, with several
 * instances on one store, found while building the simulator's operator. Each test is the smallest
 * history that shows the race, and states what graft does. Both were bugs (the tests were written
 * as failing first): a decision read no clock, and `operate` decided on the state the instance had
 * heard of, not on the store's.
 */

/** A `cancel` write that needs approval within `approvalTimeoutMs`, recording its runs. */
function cancelTool(clock: VirtualClock, runs: number[], approvalTimeoutMs: number) {
  return defineTool({
    name: 'cancel',
    description: 'cancel the order',
    parameters: z.object({}),
    effect: 'write',
    approval: true,
    approvalTimeoutMs,
    run() {
      runs.push(clock.now());
      return { cancelled: true };
    },
  });
}

/** The store as an instance sees it: another instance's appends are heard `delayMs` later (PostgreSQL's NOTIFY is not instant). */
function heardLate(store: MemoryStore, clock: VirtualClock, delayMs: number): EventStore {
  return {
    append: (key, expectedSeq, events, options) => store.append(key, expectedSeq, events, options),
    read: (key, afterSeq) => store.read(key, afterSeq),
    conversations: (options) => store.conversations(options),
    unfinished: () => store.unfinished(),
    ledger: (key, idempotencyKey) => store.ledger(key, idempotencyKey),
    outbox: (options) => store.outbox(options),
    watch: (listener) =>
      store.watch((key, seq) => void clock.setTimer(clock.now() + delayMs, () => listener(key, seq))),
    close: () => Promise.resolve(),
  };
}

function setup(approvalTimeoutMs: number) {
  const clock = new VirtualClock(0);
  const store = new MemoryStore();
  const runs: number[] = [];
  const brain = createScriptedBrain([
    [callTool('cancel', {})],
    [say('A colleague will confirm the cancellation.')],
    [say('Your order is cancelled.')],
  ]);
  const errors: unknown[] = [];
  const start = (instanceId: string) =>
    createGraft({
      store: heardLate(store, clock, 100),
      model: new BrainModel(brain, { clock, latencyMs: () => 700, idPrefix: instanceId }),
      tools: [cancelTool(clock, runs, approvalTimeoutMs)],
      clock,
      instanceId,
      pollMs: 1_000,
      deliver: () => undefined,
      onError: (e) => errors.push(e),
    });
  return { clock, store, runs, errors, start };
}

describe('a decision racing graft’s view of the request', () => {
  // Instance a makes the request (at 700 ms; it expires at 2,700 ms), then stops (a dead or frozen
  // process) before the bound. At 5,000 ms no instance has appended the expiry yet: b has not swept
  // the conversation. A decision made on b then must be refused as expired: `decideRequest` reads
  // the deciding instance's clock.
  it('refuses a decision that reaches an instance after the request expired, before anyone recorded the expiry', async () => {
    const { clock, runs, start } = setup(2_000);
    const a = start('a');
    void a.receive({ conversationId: 'c1', messageId: 'm1', text: 'Cancel my order.' });
    await clock.run(1_500);
    const listed = await a.approvals();
    expect(listed.map((r) => r.expiresAt)).toEqual([2_700]);
    await a.close();
    const b = start('b');
    await clock.run(5_000);
    // Past its bound it is no longer listed, and a decision (a person who saw it listed at
    // 1,500 ms) is refused as expired.
    expect(await b.approvals()).toEqual([]);
    await expect(b.decide(listed[0]!.id, { decision: 'approve', operator: 'ana' })).rejects.toMatchObject({
      code: 'request_not_pending',
      message: expect.stringMatching(/expired/),
    });
    await clock.run(6_000);
    expect(runs).toEqual([]);
  });

  // b has the conversation loaded from before the request. a makes the request at 700 ms; b hears
  // of the append 100 ms later. In between, `approvals()` on b lists the request (it reads the
  // store), and `decide` on b, for that very id, must find it: `operate` reads on before acting.
  it('decides a request listed by the same instance a moment before, whose append it has not heard of yet', async () => {
    const { clock, runs, start } = setup(60_000);
    const a = start('a');
    const b = start('b');
    void a.receive({ conversationId: 'c1', messageId: 'm1', text: 'Cancel my order.' });
    await clock.run(100);
    await b.conversation('c1');
    await clock.run(750);
    const listed = await b.approvals();
    expect(listed).toHaveLength(1);
    await b.decide(listed[0]!.id, { decision: 'approve', operator: 'ana' });
    await clock.run(10_000);
    expect(runs).toHaveLength(1);
    await Promise.all([a.close(), b.close()]);
  });
});

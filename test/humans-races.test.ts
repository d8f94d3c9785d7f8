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
 * history that shows the race, and states what graft should do; both are known bugs of the runtime
 * and core today, so they are marked `it.fails` (they pass while the bug is there). Once a bug is
 * fixed its test fails: turn `it.fails` into `it`.
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
  // the conversation. `approvals()` on b still lists the request, and `decide` on b approves it,
  // 2.3 s past its bound: `decideRequest` does not look at the clock, and `operate` decides on the
  // state as read, without planning first (plan would have expired it).
  it.fails(
    'refuses a decision that reaches an instance after the request expired, before anyone recorded the expiry',
    async () => {
      const { clock, runs, start } = setup(2_000);
      const a = start('a');
      void a.receive({ conversationId: 'c1', messageId: 'm1', text: 'Cancel my order.' });
      await clock.run(1_500);
      await a.close();
      const b = start('b');
      await clock.run(5_000);
      const listed = await b.approvals();
      expect(listed.map((r) => r.expiresAt)).toEqual([2_700]);
      // Expected: refused as expired (or not listed at all). Today it is approved, and the write runs.
      await expect(b.decide(listed[0]!.id, { decision: 'approve', operator: 'ana' })).rejects.toMatchObject({
        code: 'request_not_pending',
      });
      await clock.run(6_000);
      expect(runs).toEqual([]);
    },
  );

  // b has the conversation loaded from before the request. a makes the request at 700 ms; b hears
  // of the append 100 ms later. In between, `approvals()` on b lists the request (it reads the
  // store), and `decide` on b, for that very id, throws `request_not_found`: `operate` decides on
  // b's loaded state, which does not hold the request yet, and only reads on after a conflict.
  it.fails(
    'decides a request listed by the same instance a moment before, whose append it has not heard of yet',
    async () => {
      const { clock, runs, start } = setup(60_000);
      const a = start('a');
      const b = start('b');
      void a.receive({ conversationId: 'c1', messageId: 'm1', text: 'Cancel my order.' });
      await clock.run(100);
      await b.conversation('c1');
      await clock.run(750);
      const listed = await b.approvals();
      expect(listed).toHaveLength(1);
      // Expected: approved. Today: OperatorError request_not_found.
      await b.decide(listed[0]!.id, { decision: 'approve', operator: 'ana' });
      await clock.run(10_000);
      expect(runs).toHaveLength(1);
      await Promise.all([a.close(), b.close()]);
    },
  );
});

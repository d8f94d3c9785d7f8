import { describe, expect, it } from 'vitest';
import { createShopClerk } from '../src/demo/clerk/brain.js';
import type { Shop } from '../src/demo/shop/shop.js';
import { harness, shopOnClock } from './harness.js';

/**
 * The demo with people in the loop, on virtual time: the shop clerk as the model and the demo
 * shop's tools, with `cancel_order` needing a member of staff's approval as in `graft demo`.
 */
function demo(approvalTimeoutMs?: number) {
  let shop: Shop | undefined;
  const h = harness({
    brain: createShopClerk(),
    tools: (clock) => {
      const cancelApproval = approvalTimeoutMs === undefined ? true : { timeoutMs: approvalTimeoutMs };
      const onClock = shopOnClock(clock, 200, { cancelApproval });
      shop = onClock.shop;
      return onClock.tools;
    },
  });
  const orders = () => shop!.orders('c1').map((o) => ({ orderId: o.orderId, status: o.status }));
  const texts = () => h.delivered.map((d) => d.text);
  return { ...h, orders, texts };
}

/** Orders two pizzas at 0 and asks to cancel them at 10 s; runs until 30 s. */
async function orderThenCancel(d: ReturnType<typeof demo>) {
  d.sendAt(0, 'm1', "I'd like 2 pizzas.");
  d.sendAt(10_000, 'm2', 'Please cancel my order.');
  await d.clock.run(30_000);
  expect(d.texts()).toEqual([
    'Your order ord_1 is confirmed: 2 pizzas. Anything else I can get you?',
    "A colleague needs to confirm the cancellation of order ord_1; I'll let you know as soon as they have.",
  ]);
  const pending = await d.graft.approvals();
  expect(pending).toEqual([
    expect.objectContaining({
      conversationId: 'c1',
      tool: 'cancel_order',
      arguments: '{"order_id":"ord_1"}',
    }),
  ]);
  expect(d.orders()).toEqual([{ orderId: 'ord_1', status: 'confirmed' }]);
  return pending[0]!;
}

describe('the demo with approvals', () => {
  it('cancels an order once a colleague approves, and tells the customer in a follow-up', async () => {
    const d = demo();
    const request = await orderThenCancel(d);
    await d.graft.decide(request.id, { decision: 'approve', operator: 'ana' });
    await d.clock.run();
    expect(d.orders()).toEqual([{ orderId: 'ord_1', status: 'cancelled' }]);
    expect(d.delivered.at(-1)).toMatchObject({
      kind: 'follow-up',
      text: 'Good news: a colleague confirmed it, and your order ord_1 is cancelled. Is there anything else I can help you with?',
    });
    expect(d.delivered).toHaveLength(3);
    expect(await d.graft.approvals()).toEqual([]);
    expect(d.errors).toEqual([]);
  });

  it('keeps the order when a colleague rejects, and the follow-up quotes their note', async () => {
    const d = demo();
    const request = await orderThenCancel(d);
    await d.graft.decide(request.id, {
      decision: 'reject',
      operator: 'ana',
      note: 'It is already on its way.',
    });
    await d.clock.run();
    expect(d.orders()).toEqual([{ orderId: 'ord_1', status: 'confirmed' }]);
    expect(d.delivered.at(-1)).toMatchObject({
      kind: 'follow-up',
      text: 'Sorry, a colleague declined the cancellation of order ord_1: "It is already on its way." Nothing has changed. Is there anything else I can help you with?',
    });
    // The clerk does not ask again by itself; the customer can.
    d.sendAt(d.clock.now() + 1_000, 'm3', 'Where is my order?');
    await d.clock.run(d.clock.now() + 20_000);
    expect(d.texts().at(-1)).toBe(
      'Your order ord_1 is confirmed: 2 pizzas. Anything else I can help you with?',
    );
    expect(await d.graft.approvals()).toEqual([]);
    d.sendAt(d.clock.now() + 1_000, 'm4', 'Please cancel it anyway.');
    await d.clock.run(d.clock.now() + 20_000);
    expect(await d.graft.approvals()).toHaveLength(1);
    expect(d.texts().at(-1)).toMatch(/^A colleague needs to confirm the cancellation of order ord_1/);
    expect(d.errors).toEqual([]);
  });

  it('tells the customer when nobody decided in time', async () => {
    const d = demo(60_000);
    await orderThenCancel(d);
    await d.clock.run();
    expect(d.orders()).toEqual([{ orderId: 'ord_1', status: 'confirmed' }]);
    expect(d.delivered.at(-1)).toMatchObject({
      kind: 'follow-up',
      text: 'Sorry, nobody could confirm the cancellation of order ord_1 in time, so nothing has changed. Is there anything else I can help you with?',
    });
    expect(await d.graft.approvals()).toEqual([]);
  });

  it('refuses another change while the cancellation waits, and says it can be made once decided', async () => {
    const d = demo();
    await orderThenCancel(d);
    d.sendAt(31_000, 'm3', 'Add a cola.');
    await d.clock.run(60_000);
    expect(d.texts().at(-1)).toBe(
      "I can make that change once a colleague has decided on the cancellation of order ord_1; I'll let you know as soon as they have.",
    );
    expect(await d.graft.approvals()).toHaveLength(1);
    expect(d.orders()).toEqual([{ orderId: 'ord_1', status: 'confirmed' }]);
  });

  it('drops a withdrawn request when the customer changes their mind, and asks again when they insist', async () => {
    // m3 arrives after the request was made (10.7 s) and before the reply about it: it is withdrawn.
    for (const [text, pending, last] of [
      ['Actually, keep it.', 0, /^Happy to help! Your order ord_1 for 2 pizzas is confirmed/],
      ['Yes, cancel it, please.', 1, /^A colleague needs to confirm the cancellation of order ord_1/],
    ] as const) {
      const d = demo();
      d.sendAt(0, 'm1', "I'd like 2 pizzas.");
      d.sendAt(10_000, 'm2', 'Please cancel my order.');
      d.sendAt(11_000, 'm3', text);
      await d.clock.run(60_000);
      const state = await d.graft.conversation('c1');
      expect([...state.effects.values()].map((e) => e.approval?.decision ?? null)).toContain('withdrawn');
      expect(await d.graft.approvals()).toHaveLength(pending);
      expect(d.texts()).toHaveLength(2);
      expect(d.texts().at(-1)).toMatch(last);
      expect(d.orders()).toEqual([{ orderId: 'ord_1', status: 'confirmed' }]);
    }
  });
});

describe('the demo with a takeover', () => {
  it("answers nothing while a person has the conversation, and the next answer shows it read the person's reply", async () => {
    const d = demo();
    d.sendAt(0, 'm1', "I'd like 2 pizzas.");
    await d.clock.run(10_000);
    await d.graft.takeOver('c1', 'ana');
    d.sendAt(11_000, 'm2', 'Can I get a discount?');
    await d.clock.run(20_000);
    expect(d.delivered).toHaveLength(1);
    await d.graft.operatorReply('c1', 'Sure, I took 10% off your order.');
    await d.clock.run(21_000);
    await d.graft.release('c1');
    d.sendAt(22_000, 'm3', 'Thanks! Where is my order?');
    await d.clock.run();
    expect(d.delivered.map((r) => [r.kind, r.text])).toEqual([
      ['reply', 'Your order ord_1 is confirmed: 2 pizzas. Anything else I can get you?'],
      ['operator', 'Sure, I took 10% off your order.'],
      [
        'reply',
        'As my colleague ana said: "Sure, I took 10% off your order." Your order ord_1 is confirmed: 2 pizzas. Anything else I can help you with?',
      ],
    ]);
    expect(d.errors).toEqual([]);
  });
});

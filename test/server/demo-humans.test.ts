import { describe, expect, it } from 'vitest';
import { startDemo } from '../../src/cli/demo-command.js';
import type { ConversationView } from '../../src/server/view.js';
import { until } from './helpers.js';

/**
 * The demo of README's quick start, over HTTP (the emulator and the shop clerk behind it): the
 * approval of a cancellation, and a takeover.
 */
const FAST = ['--port', '0', '--latency', 'zero', '--tool-latency-ms', '20', '--store', 'memory'];

async function api(url: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: 'Bearer demo',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

const view = async (url: string, id = 'c1') =>
  (await (await api(url, `/v1/conversations/${id}`)).json()) as ConversationView;

/** Waits until the conversation has `count` replies and nothing more is running in it. */
async function replies(url: string, count: number, id = 'c1'): Promise<ConversationView> {
  let found: ConversationView | null = null;
  await until(async () => {
    found = await view(url, id);
    return found.replies.length >= count && found.attempts.every((a) => a.status !== 'live');
  }, `${count} replies in ${id}`);
  return found!;
}

async function send(url: string, id: string, text: string, conversation = 'c1') {
  const res = await api(url, `/v1/conversations/${conversation}/messages`, { id, text });
  expect(res.status).toBe(202);
}

describe('the demo with people in the loop, over HTTP', () => {
  it('asks a colleague before cancelling: one pending approval, then the order is cancelled and the customer told', async () => {
    const demo = await startDemo(FAST, {});
    try {
      await send(demo.url, 'm1', "I'd like 2 pizzas.");
      await replies(demo.url, 1);
      await send(demo.url, 'm2', 'Please cancel my order.');
      const asked = await replies(demo.url, 2);
      expect(asked.replies[1]!.text).toMatch(/colleague/i);
      const { approvals } = (await (await api(demo.url, '/v1/approvals')).json()) as {
        approvals: { id: string; tool: string; arguments: unknown }[];
      };
      expect(approvals).toEqual([
        expect.objectContaining({ tool: 'cancel_order', arguments: { order_id: 'ord_1' } }),
      ]);
      const orders = async () =>
        ((await (await api(demo.url, '/v1/demo/orders')).json()) as { orders: { status: string }[] }).orders;
      expect((await orders()).map((o) => o.status)).toEqual(['confirmed']);
      const decided = await api(demo.url, `/v1/approvals/${encodeURIComponent(approvals[0]!.id)}`, {
        decision: 'approve',
        operator: 'ana',
      });
      expect(decided.status).toBe(200);
      const told = await replies(demo.url, 3);
      expect(told.replies[2]).toMatchObject({ kind: 'follow-up', text: expect.stringMatching(/cancelled/) });
      expect((await orders()).map((o) => o.status)).toEqual(['cancelled']);
      expect(((await (await api(demo.url, '/v1/approvals')).json()) as { approvals: [] }).approvals).toEqual(
        [],
      );
      // Deciding again is refused with the reason.
      const again = await api(demo.url, `/v1/approvals/${encodeURIComponent(approvals[0]!.id)}`, {
        decision: 'reject',
      });
      expect(again.status).toBe(409);
      expect(await again.json()).toMatchObject({ error: { code: 'request_not_pending' } });
    } finally {
      await demo.close();
    }
  });

  it('answers nothing and writes nothing while taken over, sends the person, and knows what they said after release', async () => {
    const demo = await startDemo(FAST, {});
    try {
      await send(demo.url, 'm1', "I'd like 2 pizzas.", 'c2');
      await replies(demo.url, 1, 'c2');
      expect((await api(demo.url, '/v1/conversations/c2/takeover', { operator: 'ana' })).status).toBe(200);
      await send(demo.url, 'm2', 'Add 3 colas please.', 'c2');
      // Give the bot every chance to answer (the emulator answers at once here).
      await new Promise((resolve) => setTimeout(resolve, 500));
      const during = await view(demo.url, 'c2');
      expect(during.replies).toHaveLength(1);
      expect(during.effects).toHaveLength(1);
      expect(during.takenOver).toMatchObject({ operator: 'ana' });
      const sent = await api(demo.url, '/v1/conversations/c2/operator-messages', {
        text: 'Hello, Ana here: the bot will add your colas once I hand you back.',
      });
      expect(sent.status).toBe(202);
      const withOperator = await replies(demo.url, 2, 'c2');
      expect(withOperator.replies[1]).toMatchObject({
        kind: 'operator',
        text: 'Hello, Ana here: the bot will add your colas once I hand you back.',
      });
      expect((await api(demo.url, '/v1/conversations/c2/release', {})).status).toBe(200);
      await send(demo.url, 'm3', 'Thanks!', 'c2');
      const after = await replies(demo.url, 3, 'c2');
      // The bot read the person's reply, and made the change the customer asked for meanwhile.
      expect(after.replies[2]!.text).toMatch(/ana said: "Hello, Ana here/i);
      expect(after.effects.map((e) => e.tool)).toEqual(['create_order', 'update_order']);
    } finally {
      await demo.close();
    }
  });
});

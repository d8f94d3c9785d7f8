import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultCatalogue } from '../shop/catalogue.js';
import { createMemoryShop, type Shop } from '../shop/shop.js';
import { createShopTools } from '../shop/tools.js';
import type { BrainOutput } from '../../core/brain.js';
import { notes, notices } from '../../core/context.js';
import { rejectionOutput } from '../../core/state.js';
import type { FunctionToolSpec, InputItem } from '../../core/items.js';
import { type ToolContext, toolSpec } from '../../tools/define-tool.js';
import { contextTokens, estimateTokens, outputTokens } from '../../model/tokens.js';
import { createShopClerk } from './brain.js';
import { applyIntent, type DesiredOrder, type Intent, parseIntents, renderIntent } from './language.js';

const clerk = createShopClerk();
const specs: FunctionToolSpec[] = createShopTools(createMemoryShop()).map((tool) => toolSpec(tool));

const user = (content: string): InputItem => ({ type: 'message', role: 'user', content });
const assistant = (content: string): InputItem => ({ type: 'message', role: 'assistant', content });
const developer = (content: string): InputItem => ({ type: 'message', role: 'developer', content });
const call = (callId: string, name: string, args: unknown): InputItem => ({
  type: 'function_call',
  call_id: callId,
  name,
  arguments: JSON.stringify(args),
});
const output = (callId: string, value: unknown): InputItem => ({
  type: 'function_call_output',
  call_id: callId,
  output: typeof value === 'string' ? value : JSON.stringify(value),
});
const pair = (callId: string, name: string, args: unknown, result: unknown): InputItem[] => [
  call(callId, name, args),
  output(callId, result),
];
const line = (product: string, quantity: number) => ({ product, quantity });
const order = (orderId: string, items: { product: string; quantity: number }[], status = 'confirmed') => ({
  order_id: orderId,
  status,
  items,
});
const running = { status: 'running', note: 'still running' };
const unknown = { status: 'unknown', note: 'may have completed' };
const notExecuted = { status: 'not_executed', note: 'state changed' };

const m1 = user("I'd like 2 pizzas");
const createPizzas = { items: [line('pizza', 2)] };
const ord1 = order('ord_1', [line('pizza', 2)]);

function ask(input: readonly InputItem[], tools: readonly FunctionToolSpec[] = specs): BrainOutput[] {
  return clerk({ model: 'shop-clerk', instructions: 'You are the clerk of a small shop.', input, tools });
}

function callOf(outputs: BrainOutput[]): { name: string; args: unknown } {
  expect(outputs).toHaveLength(1);
  const [item] = outputs;
  if (item?.type !== 'function_call') {
    throw new Error(`expected a function call, got ${JSON.stringify(outputs)}`);
  }
  return { name: item.name, args: JSON.parse(item.arguments) };
}

function textOf(outputs: BrainOutput[]): string {
  expect(outputs).toHaveLength(1);
  const [item] = outputs;
  if (item?.type !== 'message') throw new Error(`expected a message, got ${JSON.stringify(outputs)}`);
  return item.text;
}

const wordCount = (text: string) => text.split(/\s+/).filter((word) => word.length > 0).length;

describe('the seed scenario', () => {
  it('updates the order the context shows created, and never creates it again', () => {
    const input = [m1, ...pair('call_1', 'create_order', createPizzas, ord1), user('add a cola')];
    expect(callOf(ask(input))).toEqual({
      name: 'update_order',
      args: { order_id: 'ord_1', items: [line('cola', 1), line('pizza', 2)] },
    });
  });

  it('updates an order created by another branch when it is grafted in', () => {
    const input = [
      m1,
      user('add a cola'),
      developer('The tool calls that follow were made by another branch of this conversation.'),
      ...pair('graft_eff_3_1_1', 'create_order', createPizzas, ord1),
    ];
    expect(callOf(ask(input))).toEqual({
      name: 'update_order',
      args: { order_id: 'ord_1', items: [line('cola', 1), line('pizza', 2)] },
    });
  });

  it('creates the order again when the context is blind to the first one (the duplicate is the context’s fault)', () => {
    expect(callOf(ask([m1, user('add a cola')]))).toEqual({
      name: 'create_order',
      args: { items: [line('cola', 1), line('pizza', 2)] },
    });
  });
});

describe('effects of other branches', () => {
  it('does not write while a grafted write is running, and says the order is being processed', () => {
    const input = [m1, ...pair('graft_eff_3_1_1', 'create_order', createPizzas, running), user('add a cola')];
    const text = textOf(ask(input));
    expect(text).toMatch(/being processed/);
    expect(text).toMatch(/placing an order for 2 pizzas/);
  });

  it('does not write while its own write is reported running', () => {
    const input = [m1, ...pair('call_1', 'create_order', createPizzas, running), user('add a cola')];
    expect(textOf(ask(input))).toMatch(/being processed/);
  });

  it('lets a later graft of the same effect supersede the running one', () => {
    const input = [
      m1,
      ...pair('graft_eff_3_1_1', 'create_order', createPizzas, running),
      user('add a cola'),
      ...pair('graft_eff_3_1_2', 'create_order', createPizzas, ord1),
    ];
    expect(callOf(ask(input)).name).toBe('update_order');
  });

  it('matches a graft that settles its own running call by name and arguments', () => {
    const input = [
      m1,
      ...pair('call_1', 'create_order', createPizzas, running),
      user('add a cola'),
      ...pair('graft_eff_3_1_1', 'create_order', createPizzas, ord1),
    ];
    expect(callOf(ask(input)).name).toBe('update_order');
  });

  it('checks the order before writing when a write has an unknown outcome', () => {
    const input = [m1, ...pair('graft_eff_3_1_1', 'create_order', createPizzas, unknown), user('add a cola')];
    expect(callOf(ask(input))).toEqual({ name: 'get_order', args: {} });
  });

  it('checks the order a write named when that update has an unknown outcome', () => {
    const input = [
      m1,
      ...pair('call_1', 'create_order', createPizzas, ord1),
      user('add a cola'),
      ...pair(
        'call_2',
        'update_order',
        { order_id: 'ord_1', items: [line('cola', 1), line('pizza', 2)] },
        unknown,
      ),
    ];
    expect(callOf(ask(input))).toEqual({ name: 'get_order', args: { order_id: 'ord_1' } });
  });

  it('acts on what get_order found after an unknown outcome', () => {
    const uncertain = [
      m1,
      ...pair('graft_eff_3_1_1', 'create_order', createPizzas, unknown),
      user('add a cola'),
    ];
    const found = [...uncertain, ...pair('call_2', 'get_order', {}, ord1)];
    expect(callOf(ask(found))).toEqual({
      name: 'update_order',
      args: { order_id: 'ord_1', items: [line('cola', 1), line('pizza', 2)] },
    });
    const notFound = [...uncertain, ...pair('call_2', 'get_order', {}, { status: 'not_found' })];
    expect(callOf(ask(notFound)).name).toBe('create_order');
  });

  it('ignores a call that was not executed and decides from the grafts that replaced it', () => {
    const input = [
      m1,
      user('add a cola'),
      ...pair('call_9', 'create_order', { items: [line('cola', 1), line('pizza', 2)] }, notExecuted),
      ...pair('graft_eff_3_1_1', 'create_order', createPizzas, ord1),
    ];
    expect(callOf(ask(input)).name).toBe('update_order');
    const withoutGraft = input.slice(0, 4);
    expect(callOf(ask(withoutGraft)).name).toBe('create_order');
  });

  it('ignores a call whose output has not arrived', () => {
    expect(callOf(ask([m1, call('call_1', 'create_order', createPizzas)])).name).toBe('create_order');
  });
});

describe('orders, cancellations, status and menu', () => {
  it('cancels the order, then confirms the cancellation', () => {
    const input = [
      m1,
      ...pair('call_1', 'create_order', createPizzas, ord1),
      assistant('Confirmed.'),
      user('cancel my order'),
    ];
    expect(callOf(ask(input))).toEqual({ name: 'cancel_order', args: { order_id: 'ord_1' } });
    const done = [
      ...input,
      ...pair('call_2', 'cancel_order', { order_id: 'ord_1' }, { ...ord1, status: 'cancelled' }),
    ];
    expect(textOf(ask(done))).toMatch(/ord_1 has been cancelled/);
  });

  it('creates a new order after a cancelled one', () => {
    const cancelled = { ...ord1, status: 'cancelled' };
    const input = [m1, ...pair('call_1', 'create_order', createPizzas, ord1), user('cancel my order')];
    const next = [
      ...input,
      ...pair('call_2', 'cancel_order', { order_id: 'ord_1' }, cancelled),
      user('I want a burger'),
    ];
    expect(callOf(ask(next))).toEqual({ name: 'create_order', args: { items: [line('burger', 1)] } });
  });

  it('looks the order up for a status question, then answers with it', () => {
    const input = [
      m1,
      ...pair('call_1', 'create_order', createPizzas, ord1),
      assistant('Confirmed.'),
      user('where is my order?'),
    ];
    expect(callOf(ask(input))).toEqual({ name: 'get_order', args: { order_id: 'ord_1' } });
    const answered = [...input, ...pair('call_2', 'get_order', { order_id: 'ord_1' }, ord1)];
    const text = textOf(ask(answered));
    expect(text).toMatch(/ord_1 is confirmed: 2 pizzas/);
  });

  it('says there is no order when asked for the status of none', () => {
    expect(textOf(ask([user('where is my order?')]))).toMatch(/couldn't find an order/);
  });

  it('lists the products for a menu question, then shows the menu', () => {
    const input = [user('what do you have?')];
    expect(callOf(ask(input))).toEqual({ name: 'list_products', args: {} });
    const menu = {
      products: [
        { product: 'pizza', price_cents: 1200 },
        { product: 'cola', price_cents: 250 },
      ],
    };
    const text = textOf(ask([...input, ...pair('call_1', 'list_products', {}, menu)]));
    expect(text).toMatch(/pizza \$12\.00, cola \$2\.50/);
  });

  it('confirms the order once the shop matches what the customer asked', () => {
    const input = [m1, ...pair('call_1', 'create_order', createPizzas, ord1)];
    expect(textOf(ask(input))).toMatch(/ord_1 is confirmed: 2 pizzas/);
  });

  it('mentions products it did not recognise', () => {
    expect(textOf(ask([user("I'd like 2 tacos")]))).toMatch(/^Sorry, we don't have tacos\./);
  });

  it('replies politely to chat', () => {
    expect(textOf(ask([user('hello')]))).toMatch(/^Happy to help!/);
  });
});

describe('people in the loop', () => {
  const note = (entry: { item: InputItem }) => entry.item;
  const cancelArgs = { order_id: 'ord_1' };
  const cancelledOrd1 = { ...ord1, status: 'cancelled' };
  /** The customer asked to cancel, and the cancellation became a request that awaits approval. */
  const requested = [
    m1,
    ...pair('call_1', 'create_order', createPizzas, ord1),
    assistant('Your order ord_1 is confirmed.'),
    user('Please cancel my order.'),
    ...pair('call_2', 'cancel_order', cancelArgs, notices.awaiting),
  ];
  const told = [...requested, assistant('A colleague needs to confirm the cancellation.')];
  /** The decision arrives in a follow-up: the effect grafted at its new status, then the note. */
  const decided = (output: unknown) => [
    ...told,
    note(notes.grafts('Please cancel my order.', null)),
    ...pair('graft_eff_2_1_1', 'cancel_order', cancelArgs, output),
    note(notes.followUp),
  ];

  it('tells the customer a colleague must confirm a write that awaits approval', () => {
    expect(textOf(ask(requested))).toBe(
      "A colleague needs to confirm the cancellation of order ord_1; I'll let you know as soon as they have.",
    );
  });

  it('never asks for a write again while it awaits approval, whatever the customer writes', () => {
    for (const text of ['Please cancel my order.', 'Thanks!', 'Where is my order?']) {
      expect(textOf(ask([...told, user(text)]))).toMatch(
        /^A colleague still needs to confirm the cancellation of order ord_1/,
      );
    }
  });

  it('says a change waits for the colleague when it was refused because a request awaits, and does not retry', () => {
    const asked = [...told, user('Add a cola.')];
    const tried = callOf(ask(asked));
    expect(tried.name).toBe('update_order');
    const refused = [
      ...asked,
      ...pair('call_3', tried.name, tried.args, notices.awaitingOther('cancel_order')),
    ];
    expect(textOf(ask(refused))).toBe(
      "I can make that change once a colleague has decided on the cancellation of order ord_1; I'll let you know as soon as they have.",
    );
    // Refused from a context that did not show the request: the tool the refusal names is enough.
    const blind = [
      m1,
      ...pair('call_1', 'create_order', createPizzas, ord1),
      user('Add a cola.'),
      ...pair('call_2', 'update_order', cancelArgs, notices.awaitingOther('cancel_order')),
    ];
    expect(textOf(ask(blind))).toMatch(/once a colleague has decided on the cancellation of your order/);
    // A decision came after the refusal (an approval rebased the draft): the change is tried again.
    const decided = [
      ...refused,
      note(notes.grafts(null, null)),
      ...pair('graft_eff_2_1_1', 'cancel_order', cancelArgs, cancelledOrd1),
    ];
    expect(callOf(ask(decided))).toEqual({ name: 'create_order', args: { items: [line('cola', 1)] } });
    // The customer writes again: the change is tried again.
    expect(callOf(ask([...refused, assistant('Later.'), user('Add a cola.')])).name).toBe('update_order');
  });

  it('follows up an approved cancellation with the cancelled order', () => {
    expect(textOf(ask(decided(cancelledOrd1)))).toBe(
      'Good news: a colleague confirmed it, and your order ord_1 is cancelled. Is there anything else I can help you with?',
    );
  });

  it('says a rejected request was declined, quoting the note, and keeps the order', () => {
    const rejected = decided(rejectionOutput('rejected', 'It has already left the kitchen.'));
    expect(textOf(ask(rejected))).toBe(
      'Sorry, a colleague declined the cancellation of order ord_1: "It has already left the kitchen." Nothing has changed. Is there anything else I can help you with?',
    );
    const answered = [...rejected, assistant('Sorry, declined.')];
    // Not retried: the order stays until the customer asks again.
    expect(callOf(ask([...answered, user('Where is my order?')]))).toEqual({
      name: 'get_order',
      args: { order_id: 'ord_1' },
    });
    expect(callOf(ask([...answered, user('Add a cola.')]))).toEqual({
      name: 'update_order',
      args: { order_id: 'ord_1', items: [line('cola', 1), line('pizza', 2)] },
    });
    expect(callOf(ask([...answered, user('Please cancel it anyway.')]))).toEqual({
      name: 'cancel_order',
      args: cancelArgs,
    });
  });

  it('says a rejection without a note was declined, without quoting anything', () => {
    expect(textOf(ask(decided(rejectionOutput('rejected', undefined))))).toMatch(
      /^Sorry, a colleague declined the cancellation of order ord_1\. Nothing has changed\./,
    );
  });

  it('says nobody could confirm an expired request in time, and does not retry it', () => {
    expect(textOf(ask(decided(rejectionOutput('expired', undefined))))).toBe(
      'Sorry, nobody could confirm the cancellation of order ord_1 in time, so nothing has changed. Is there anything else I can help you with?',
    );
  });

  it('asks again for a withdrawn request only when the customer’s newer messages still ask for it', () => {
    const withdrawn = [
      m1,
      ...pair('call_1', 'create_order', createPizzas, ord1),
      assistant('Your order ord_1 is confirmed.'),
      user('Please cancel my order.'),
      ...pair('call_2', 'cancel_order', cancelArgs, rejectionOutput('withdrawn', undefined)),
    ];
    expect(textOf(ask([...withdrawn, user('Actually, keep it.')]))).toMatch(
      /order ord_1 for 2 pizzas is confirmed/,
    );
    expect(callOf(ask([...withdrawn, user('Yes, cancel it, please.')]))).toEqual({
      name: 'cancel_order',
      args: cancelArgs,
    });
    // A graft of the withdrawn request (from the superseded branch) reads the same.
    const grafted = [
      ...withdrawn.slice(0, 4),
      note(notes.grafts('Please cancel my order.', 'Add a cola.')),
      ...pair('graft_eff_2_1_1', 'cancel_order', cancelArgs, rejectionOutput('withdrawn', undefined)),
      user('Add a cola.'),
    ];
    expect(callOf(ask(grafted))).toEqual({
      name: 'update_order',
      args: { order_id: 'ord_1', items: [line('cola', 1), line('pizza', 2)] },
    });
  });

  it('does not retry a write that was approved and then failed until the customer writes again', () => {
    const failed = decided({ error: 'The order has already been delivered.' });
    expect(textOf(ask(failed))).toMatch(
      /couldn't cancel your order just now \(The order has already been delivered\.\)/,
    );
    expect(callOf(ask([...failed, assistant('Sorry.'), user('Please cancel my order.')])).name).toBe(
      'cancel_order',
    );
  });

  it('shows it read what a member of staff replied, then answers the latest message', () => {
    const operated = [
      user('Hello?'),
      user('Is anyone there?'),
      note(notes.byOperator('ana')),
      assistant('We added a free dessert to your order.'),
      user('Great, thanks.'),
    ];
    expect(textOf(ask(operated))).toMatch(
      /^As my colleague ana said: "We added a free dessert to your order\." Happy to help!/,
    );
    // Through a write, and only in the next answer.
    const ordering = [...operated.slice(0, 4), m1];
    expect(callOf(ask(ordering)).name).toBe('create_order');
    const created = [...ordering, ...pair('call_1', 'create_order', createPizzas, ord1)];
    expect(textOf(ask(created))).toMatch(/^As my colleague ana said: ".*" Your order ord_1 is confirmed/);
    const next = [...created, assistant('Your order ord_1 is confirmed.'), user('Thanks!')];
    expect(textOf(ask(next))).not.toMatch(/colleague/);
    // A member of staff who gave no name, and a long reply, quoted in part.
    const long =
      'We are very sorry about the delay: the kitchen had a small fire, and every order is late tonight by about half an hour.';
    const unnamed = [
      user('Hello?'),
      note(notes.byOperator('a member of staff')),
      assistant(long),
      user('ok'),
    ];
    expect(textOf(ask(unnamed))).toMatch(
      /^As my colleague said: "We are very sorry about the delay: the kitchen had…" Happy/,
    );
  });
});

describe('limits', () => {
  it('answers in text when the tool it needs is not offered', () => {
    const withoutWrites = specs.filter((spec) => spec.name === 'get_order' || spec.name === 'list_products');
    expect(textOf(ask([m1], withoutWrites))).toMatch(/can't place your order/);
    expect(textOf(ask([user('what do you have?')], []))).toMatch(/pizza \$12\.00/);
  });

  it('retries a failed write, then apologises until the customer writes again', () => {
    const failed = { error: 'The shop is unavailable right now.' };
    const tries = (n: number) =>
      Array.from({ length: n }, (_, i) => pair(`call_${i + 1}`, 'create_order', createPizzas, failed)).flat();
    expect(callOf(ask([m1, ...tries(4)])).name).toBe('create_order');
    const gaveUp = [m1, ...tries(5)];
    expect(textOf(ask(gaveUp))).toMatch(
      /couldn't place your order just now \(The shop is unavailable right now\.\)/,
    );
    expect(callOf(ask([...gaveUp, assistant('Sorry.'), user('hello?')])).name).toBe('create_order');
    const impatient = createShopClerk({ maxFailedTries: 1 });
    const [item] = impatient({ model: 'x', instructions: null, input: [m1, ...tries(1)], tools: specs });
    expect(item?.type).toBe('message');
  });

  it('checks an unreadable write result instead of trusting or repeating it', () => {
    const input = [m1, ...pair('call_1', 'create_order', createPizzas, 'not json {')];
    expect(callOf(ask(input))).toEqual({ name: 'get_order', args: {} });
  });
});

describe('determinism and robustness', () => {
  it('answers the same context with the same output, without changing it', () => {
    const input = [m1, ...pair('call_1', 'create_order', createPizzas, ord1), user('add a cola')];
    const copy = structuredClone(input);
    expect(ask(input)).toEqual(ask(copy));
    expect(input).toEqual(copy);
  });

  it('never throws, and always answers with one call of valid JSON or one text of 10 to 40 words', () => {
    const garbage = fc.oneof(
      fc.anything(),
      fc.record({
        type: fc.constantFrom('message', 'function_call', 'function_call_output', 'reasoning'),
        role: fc.constantFrom('user', 'assistant', 'developer', 7),
        content: fc.oneof(fc.string(), fc.array(fc.anything())),
        call_id: fc.constantFrom('call_1', 'graft_eff_1_1_1', 'x'),
        name: fc.constantFrom('create_order', 'get_order', 'list_products', 'nope'),
        arguments: fc.oneof(fc.string(), fc.json()),
        output: fc.oneof(fc.string(), fc.json(), fc.anything()),
      }),
    );
    fc.assert(
      fc.property(fc.array(garbage, { maxLength: 12 }), (input) => {
        const outputs = clerk({ model: 'x', instructions: null, input: input as InputItem[], tools: specs });
        expect(outputs).toHaveLength(1);
        const [item] = outputs;
        if (item?.type === 'function_call') expect(typeof JSON.parse(item.arguments)).toBe('object');
        else expect(wordCount(item!.text)).toBeGreaterThanOrEqual(10);
        if (item?.type === 'message') expect(wordCount(item.text)).toBeLessThanOrEqual(40);
      }),
    );
  });

  it('never writes while its context shows a write running or of unknown outcome', () => {
    const later = fc.array(
      fc.oneof(
        fc.record({
          kind: fc.constant('add' as const),
          items: fc.array(lineArb(), { minLength: 1, maxLength: 3 }),
        }),
        fc.constantFrom<Intent>({ kind: 'cancel' }, { kind: 'status' }, { kind: 'menu' }, { kind: 'chat' }),
      ),
      { maxLength: 4 },
    );
    fc.assert(
      fc.property(later, fc.constantFrom(running, unknown), fc.nat(), (intents, status, variant) => {
        const input = [
          m1,
          ...pair('graft_eff_3_1_1', 'create_order', createPizzas, status),
          ...intents.map((intent) => user(renderIntent(intent, variant))),
        ];
        const [item] = ask(input);
        if (item?.type === 'function_call') expect(item.name).toBe('get_order');
      }),
    );
  });
});

function lineArb() {
  return fc.record({
    product: fc.constantFrom(...defaultCatalogue.map((entry) => entry.product)),
    quantity: fc.integer({ min: 1, max: 3 }),
  });
}

/** Runs a whole sequential conversation against a real shop, as a host with a full context would. */
function converse(messages: readonly string[], shop: Shop = createMemoryShop()) {
  const tools = createShopTools(shop);
  const toolSpecs = tools.map((tool) => toolSpec(tool));
  const input: InputItem[] = [];
  const replies: string[] = [];
  let calls = 0;
  messages.forEach((text, turn) => {
    input.push(user(text));
    for (let step = 0; ; step += 1) {
      expect(step).toBeLessThan(6);
      const [item] = clerk({ model: 'shop-clerk', instructions: null, input, tools: toolSpecs });
      if (item?.type !== 'function_call') {
        replies.push(item!.text);
        input.push(assistant(item!.text));
        break;
      }
      calls += 1;
      const callId = `call_${calls}`;
      const tool = tools.find((t) => t.name === item.name)!;
      const ctx: ToolContext = {
        tenantId: 'tenant',
        conversationId: 'conv',
        turn: turn + 1,
        messageIds: [],
        attemptId: 'att',
        toolCallId: callId,
        effectId: null,
        idempotencyKey: tool.effect === 'write' ? `${item.name}:${callId}` : null,
        signal: new AbortController().signal,
      };
      let result: string;
      try {
        result = JSON.stringify(tool.run(tool.parameters.parse(JSON.parse(item.arguments)), ctx));
      } catch (error) {
        result = JSON.stringify({ error: (error as Error).message });
      }
      input.push(
        { type: 'function_call', call_id: callId, name: item.name, arguments: item.arguments },
        output(callId, result),
      );
    }
  });
  return { shop, replies };
}

describe('whole conversations', () => {
  it('adds a cola twice when asked in two turns', () => {
    const { shop } = converse(["I'd like 2 pizzas", 'add a cola', 'add a cola']);
    expect(shop.orders('conv')).toMatchObject([
      { status: 'confirmed', items: [line('cola', 2), line('pizza', 2)] },
    ]);
  });

  it('leaves the shop as the customer asked, with one order per order asked for', () => {
    const intentArb: fc.Arbitrary<Intent> = fc.oneof(
      fc.record({
        kind: fc.constant('order' as const),
        items: fc.array(lineArb(), { minLength: 1, maxLength: 3 }),
      }),
      fc.record({
        kind: fc.constant('add' as const),
        items: fc.array(lineArb(), { minLength: 1, maxLength: 2 }),
      }),
      fc.record({
        kind: fc.constant('set' as const),
        product: fc.constantFrom(...defaultCatalogue.map((entry) => entry.product)),
        quantity: fc.integer({ min: 0, max: 4 }),
      }),
      fc.constantFrom<Intent>({ kind: 'cancel' }, { kind: 'status' }, { kind: 'menu' }, { kind: 'chat' }),
    );
    const active = (d: DesiredOrder) => d !== null && !d.cancelled && d.items.length > 0;
    fc.assert(
      fc.property(fc.array(fc.tuple(intentArb, fc.nat(100)), { minLength: 1, maxLength: 10 }), (script) => {
        const { shop, replies } = converse(script.map(([intent, variant]) => renderIntent(intent, variant)));
        let desired: DesiredOrder = null;
        let ordersAsked = 0;
        for (const [intent] of script) {
          const next = applyIntent(desired, intent);
          if (!active(desired) && active(next)) ordersAsked += 1;
          desired = next;
        }
        const orders = shop.orders('conv');
        expect(orders).toHaveLength(ordersAsked);
        const open = orders.filter((o) => o.status === 'confirmed');
        expect(open.map((o) => o.items)).toEqual(active(desired) ? [desired!.items] : []);
        for (const reply of replies) expect(wordCount(reply)).toBeGreaterThanOrEqual(10);
        for (const reply of replies) expect(wordCount(reply)).toBeLessThanOrEqual(40);
      }),
      { numRuns: 300 },
    );
  });
});

describe('token estimates of the clerk’s calls', () => {
  it('counts a quarter token per character, rounded up, and at least one for any text', () => {
    expect([
      estimateTokens(''),
      estimateTokens('a'),
      estimateTokens('abcd'),
      estimateTokens('abcde'),
    ]).toEqual([0, 1, 1, 2]);
  });

  it('bills instructions, tool declarations and every context item with its overhead', () => {
    const input = [m1, ...pair('call_1', 'create_order', createPizzas, ord1)];
    const bare = contextTokens({ instructions: null, input: [], tools: [] });
    const full = contextTokens({ instructions: 'Be brief.', input, tools: specs });
    const expected =
      estimateTokens('Be brief.') +
      estimateTokens(JSON.stringify(specs)) +
      input.length * 4 +
      estimateTokens("I'd like 2 pizzas") +
      estimateTokens('create_order' + JSON.stringify(createPizzas)) +
      estimateTokens(JSON.stringify(ord1));
    expect([bare, full]).toEqual([0, expected]);
  });

  it('bills brain outputs and response output items alike', () => {
    const text = 'Your order ord_1 is confirmed.';
    expect(outputTokens([{ type: 'message', text }])).toBe(
      outputTokens([
        {
          type: 'message',
          id: 'msg_1',
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text, annotations: [] }],
        },
      ]),
    );
    expect(outputTokens(ask([m1]))).toBeGreaterThan(4);
  });
});

describe('one message that asks for two writes', () => {
  const replace = user('Cancel ord_1 and order 3 colas instead.');
  const before = [
    m1,
    ...pair('call_1', 'create_order', createPizzas, ord1),
    assistant('Your order ord_1 is confirmed.'),
  ];
  const colas = { items: [line('cola', 3)] };
  const ord2 = order('ord_2', [line('cola', 3)]);
  const cancelled = { ...ord1, status: 'cancelled' };

  function callsOf(outputs: BrainOutput[]): { name: string; args: unknown }[] {
    return outputs.map((item) => {
      if (item.type !== 'function_call') throw new Error(`expected calls, got ${JSON.stringify(outputs)}`);
      return { name: item.name, args: JSON.parse(item.arguments) };
    });
  }

  it('cancels the order and creates the new one as parallel calls', () => {
    expect(callsOf(ask([...before, replace]))).toEqual([
      { name: 'cancel_order', args: { order_id: 'ord_1' } },
      { name: 'create_order', args: colas },
    ]);
  });

  it('reports both once done, whichever output the context shows last', () => {
    const outputs = [
      call('call_2', 'cancel_order', { order_id: 'ord_1' }),
      call('call_3', 'create_order', colas),
      output('call_2', cancelled),
      output('call_3', ord2),
    ];
    const done =
      'Your order ord_1 is cancelled, and your new order ord_2 is confirmed: 3 colas. Anything else I can get you?';
    expect(textOf(ask([...before, replace, ...outputs]))).toBe(done);
    const swapped = [outputs[0]!, outputs[1]!, outputs[3]!, outputs[2]!];
    expect(textOf(ask([...before, replace, ...swapped]))).toBe(done);
  });

  it('makes the missing write alone when only one was made (parallel calls off), and then updates the new order', () => {
    const cancelledOnly = [
      ...before,
      replace,
      ...pair('call_2', 'cancel_order', { order_id: 'ord_1' }, cancelled),
    ];
    expect(callsOf(ask(cancelledOnly))).toEqual([{ name: 'create_order', args: colas }]);
    const created = [
      ...cancelledOnly,
      ...pair('call_3', 'create_order', colas, ord2),
      assistant('Done.'),
      user('Add a pizza.'),
    ];
    expect(callsOf(ask(created))).toEqual([
      { name: 'update_order', args: { order_id: 'ord_2', items: [line('cola', 3), line('pizza', 1)] } },
    ]);
  });

  it('tells the customer the new order is placed while a colleague must confirm the cancellation', () => {
    const input = [
      ...before,
      replace,
      call('call_2', 'cancel_order', { order_id: 'ord_1' }),
      call('call_3', 'create_order', colas),
      output('call_2', notices.awaiting),
      output('call_3', ord2),
    ];
    expect(textOf(ask(input))).toBe(
      "A colleague needs to confirm the cancellation of order ord_1; I'll let you know as soon as they have. Your new order ord_2 is confirmed: 3 colas.",
    );
  });

  it('reads one intent from every message the simulator writes', () => {
    for (let variant = 0; variant < 16; variant += 1) {
      for (const intent of [{ kind: 'cancel' }, { kind: 'order', items: [line('pizza', 2)] }] as Intent[]) {
        expect(parseIntents(renderIntent(intent, variant))).toHaveLength(1);
      }
    }
  });
});

describe('pictures and files', () => {
  const withPicture = (input: InputItem[], index: number, kind: 'image' | 'file' = 'image'): BrainOutput[] =>
    clerk({
      model: 'shop-clerk',
      instructions: null,
      input,
      tools: specs,
      attachments: [{ index, kind, filename: null }],
    });

  it('says it cannot look at a picture the customer sent since its last message, and asks for words', () => {
    expect(textOf(withPicture([user('')], 0))).toMatch(
      /^I'm sorry, I can't look at pictures here, so please tell me in words\. Happy to help! We have pizza, /,
    );
  });

  it('acts on the words of a message with a file, and mentions the file in its reply', () => {
    const input = [m1];
    expect(callOf(withPicture(input, 0, 'file')).name).toBe('create_order');
    const done = [m1, ...pair('call_1', 'create_order', createPizzas, ord1)];
    expect(textOf(withPicture(done, 0, 'file'))).toMatch(/^I'm sorry, I can't look at files here/);
  });

  it('does not mention a picture it has answered already', () => {
    const input = [user(''), assistant('Please tell me in words.'), user('Hello!')];
    expect(textOf(withPicture(input, 0))).not.toContain('pictures');
  });
});
